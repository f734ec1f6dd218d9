// Live migration's pure rules: the refusal of flavor-alias devices (L3), when a claim re-targets (L4), what
// a re-target keeps (L4) and which holds are stale (L6).
import {
  initialStatus,
  isStaleHold,
  LIVE_PCI_REASON,
  livePciRefusal,
  MOVE_TYPES,
  refusalMessage,
  retargetDecision,
  retargeted,
  STALE_HOLD_DEFAULT_MS,
  STATUSES,
  ZERO,
  type Migration,
  type MigrationStatus,
  type Sizing,
} from '../../../lib/domain';
import { F1 } from './fixtures';

const sizing: Sizing = { flavor: F1, overhead: { ...ZERO }, volumeBacked: false, amounts: ZERO, pciDevices: [] };
const live = (over: Partial<Migration> = {}): Migration => ({
  migrationId: 'M1',
  instanceUuid: 'I1',
  moveType: 'live-migration',
  sourceNodeId: 'A',
  destNodeId: 'B',
  old: sizing,
  new: sizing,
  status: 'accepted',
  sequence: 0,
  fingerprint: 'fp-B',
  version: 1,
  ...over,
});
const request = { instanceUuid: 'I1', sourceNodeId: 'A', moveType: 'live-migration' as const };

describe('the devices of a live migration (rule L3)', () => {
  const alias = { count: 1, spec: [{ vendorId: '8086' }], aliasName: 'nic' };
  const port = { count: 1, spec: [{ vendorId: '8086' }] };

  test("a flavor alias request is refused with Nova's text, whose refusal ends in two dots", () => {
    expect(livePciRefusal('live-migration', [port, alias])).toBe(LIVE_PCI_REASON);
    expect(refusalMessage([LIVE_PCI_REASON])).toBe(
      'Insufficient compute resources: Non-VIF related PCI requests are not supported for live migration..',
    );
  });

  test('port requests, and every request of another kind of move, pass', () => {
    expect(livePciRefusal('live-migration', [port, port])).toBeUndefined();
    expect(livePciRefusal('live-migration', [])).toBeUndefined();
    for (const t of MOVE_TYPES.filter((m) => m !== 'live-migration'))
      expect(livePciRefusal(t, [alias])).toBeUndefined();
  });
});

test('a live migration starts accepted, the other moves pre-migrating (rules L1, O6)', () => {
  expect(MOVE_TYPES.map((t) => [t, initialStatus(t)])).toEqual([
    ['resize', 'pre-migrating'],
    ['migration', 'pre-migrating'],
    ['evacuation', 'pre-migrating'],
    ['live-migration', 'accepted'],
  ]);
});

describe('re-targeting (rule L4)', () => {
  test('an accepted live migration of the same instance and source re-targets to a new node', () => {
    expect(retargetDecision(live(), request, 'C')).toEqual({ kind: 'retarget' });
  });

  test.each(STATUSES.filter((s) => s !== 'accepted'))('one that is %s does not', (status: MigrationStatus) => {
    expect(retargetDecision(live({ status }), request, 'C')).toEqual({
      kind: 'conflict',
      reason: expect.stringContaining(`is ${status} to node B`),
    });
  });

  test.each([
    ['another instance', { ...request, instanceUuid: 'I2' }, live()],
    ['another source', { ...request, sourceNodeId: 'Z' }, live()],
    ['a cold migration', { ...request, moveType: 'migration' as const }, live()],
    ['a live claim of a cold migration', request, live({ moveType: 'migration' })],
  ])('%s is a different request', (_what, req, m) => {
    expect(retargetDecision(m, req, 'C')).toEqual({
      kind: 'conflict',
      reason: 'Migration M1 already exists with a different request.',
    });
  });

  test('the same node with another request, and a node it has left, are conflicts', () => {
    expect(retargetDecision(live(), request, 'B')).toMatchObject({ kind: 'conflict' });
    expect(retargetDecision(live({ destNodeId: 'C', formerDestNodeIds: ['B'] }), request, 'B')).toEqual({
      kind: 'conflict',
      reason: 'Migration M1 has left node B for node C.',
    });
  });

  test("the re-targeted migration takes the new claim's node and size, keeps status and sequence, and remembers", () => {
    const previous = live({ version: 4, sequence: 2, formerDestNodeIds: ['X'] });
    const claimed = live({ destNodeId: 'C', fingerprint: 'fp-C', version: 1, sequence: 0 });
    expect(retargeted(previous, claimed)).toEqual({
      ...claimed,
      status: 'accepted',
      sequence: 2,
      formerDestNodeIds: ['X', 'B'],
      version: 5,
    });
  });
});

describe('stale holds (rule L6)', () => {
  const now = 1_000_000_000;
  const age = STALE_HOLD_DEFAULT_MS;

  test('the default fresh age is 15 minutes', () => {
    expect(STALE_HOLD_DEFAULT_MS).toBe(900_000);
  });

  test.each([
    ['listed, however old', { migrationId: 'M1', heldAt: 0 }, false],
    ['not listed, younger than the age', { migrationId: 'M2', heldAt: now - age + 1 }, false],
    ['not listed, exactly the age', { migrationId: 'M2', heldAt: now - age }, true],
    ['not listed, older', { migrationId: 'M2', heldAt: now - 2 * age }, true],
    ['not listed, of unknown age', { migrationId: 'M2' }, true],
  ])('a hold %s: stale %s', (_what, hold, stale) => {
    expect(isStaleHold(hold, new Set(['M1']), now, age)).toBe(stale);
  });
});

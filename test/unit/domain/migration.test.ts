// Moves (resize, cold migration, evacuation): which status changes apply, who holds what in every status,
// and the per-node change from one status to the next, walked over every path of each lifecycle.
import { isDeepStrictEqual } from 'node:util';
import {
  add,
  decide,
  FINAL,
  IN_PROGRESS,
  instanceUsage,
  isFinal,
  MOVE_TYPES,
  placement,
  planMove,
  RESOURCES,
  STATUSES,
  ZERO,
  type Amounts,
  type Flavor,
  type Holding,
  type Migration,
  type MigrationStatus,
  type MovePlan,
  type MoveType,
  type Sizing,
} from '../../../lib/domain';
import { amounts, F1, flavor } from './fixtures';

const F2 = flavor({ vcpus: 2, memoryMb: 256, rootGb: 5 });

/** One side of a move: the flavor and its usage (no overhead, local root disk, no PCI devices) unless told otherwise. */
const sizing = (f: Flavor, usage: Amounts = instanceUsage(f, ZERO, false)): Sizing => ({
  flavor: f,
  overhead: { ...ZERO },
  volumeBacked: false,
  amounts: usage,
  pciDevices: [],
});

/** A resize of I1 from F1 to F2, from node A to node B, at pre-migrating with nothing applied yet. */
const migration = (over: Partial<Migration> = {}): Migration => ({
  migrationId: 'M1',
  instanceUuid: 'I1',
  moveType: 'resize',
  sourceNodeId: 'A',
  destNodeId: 'B',
  old: sizing(F1),
  new: sizing(F2),
  status: 'pre-migrating',
  sequence: 0,
  fingerprint: 'fp-M1',
  version: 1,
  ...over,
});

const sameHost = (over: Partial<Migration> = {}) => migration({ sourceNodeId: 'N', destNodeId: 'N', ...over });

const hold = (nodeId: string, role: Holding['role'], size: Holding['size']): Holding => ({ nodeId, role, size });
const keyOf = (h: Holding) => `${h.nodeId}|${h.role}|${h.size}`;
/** The PCI devices a holding keeps are those of its size on its node, whichever role holds them. */
const devicesOf = (h: Holding) => `${h.nodeId}|${h.size}`;
const sorted = (hs: readonly Holding[]) => [...hs].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));

const SHARED_LIFECYCLE: MigrationStatus[] = [
  'accepted',
  'pre-migrating',
  'migrating',
  'post-migrating',
  'finished',
  'confirming',
  'reverting',
  'confirmed',
  'reverted',
  'error',
  'failed',
  'cancelled',
];
const LIFECYCLES: Record<MoveType, MigrationStatus[]> = {
  resize: SHARED_LIFECYCLE,
  migration: SHARED_LIFECYCLE,
  evacuation: ['accepted', 'pre-migrating', 'migrating', 'post-migrating', 'done', 'error', 'failed', 'cancelled'],
  'live-migration': [
    'accepted',
    'queued',
    'preparing',
    'running',
    'post-migrating',
    'completed',
    'error',
    'failed',
    'cancelled',
  ],
};
const FAILURES = ['error', 'failed', 'cancelled'] as const;
/** The in-progress order; confirming and reverting are one step (alternatives after finished). */
const ORDER: MigrationStatus[][] = [
  ['accepted'],
  ['pre-migrating'],
  ['migrating'],
  ['post-migrating'],
  ['finished'],
  ['confirming', 'reverting'],
];
const CROSSINGS: [MigrationStatus, MigrationStatus][] = [
  ['reverting', 'confirming'],
  ['reverting', 'confirmed'],
  ['confirming', 'reverting'],
  ['confirming', 'reverted'],
];
const isCrossing = (from: MigrationStatus, to: MigrationStatus) => CROSSINGS.some(([a, b]) => a === from && b === to);

const kinds = (m: Migration, sequence?: number) =>
  Object.fromEntries(STATUSES.map((s) => [s, decide(m, s, sequence).kind]));

describe('statuses', () => {
  test("in progress: the cold moves' six, then the live migration's queued, preparing and running", () => {
    expect([...IN_PROGRESS]).toEqual([
      'pre-migrating',
      'migrating',
      'post-migrating',
      'finished',
      'confirming',
      'reverting',
      'queued',
      'preparing',
      'running',
    ]);
  });

  test('final: confirmed, reverted, error, failed, cancelled, done, completed', () => {
    expect([...FINAL]).toEqual(['confirmed', 'reverted', 'error', 'failed', 'cancelled', 'done', 'completed']);
  });

  test('accepted comes first, before every in-progress status, and the final ones come last', () => {
    expect([...STATUSES]).toEqual(['accepted', ...IN_PROGRESS, ...FINAL]);
  });

  test('only the final statuses are final', () => {
    expect(STATUSES.filter(isFinal)).toEqual([...FINAL]);
  });

  test('the four kinds of move are resize, cold migration, evacuation and live migration', () => {
    expect([...MOVE_TYPES]).toEqual(['resize', 'migration', 'evacuation', 'live-migration']);
  });
});

describe('deciding a status change', () => {
  describe('each kind of move accepts only the statuses of its lifecycle', () => {
    test.each(MOVE_TYPES)(
      'a fresh %s (accepted) takes every later status of its lifecycle and refuses the rest',
      (moveType) => {
        const expected = Object.fromEntries(
          STATUSES.map((s) => [
            s,
            !LIFECYCLES[moveType].includes(s) ? 'invalid' : s === 'accepted' ? 'ignore' : 'apply',
          ]),
        );
        expect(kinds(migration({ moveType, status: 'accepted' }))).toEqual(expected);
      },
    );

    test("a resize and a cold migration share one lifecycle: everything but done and the live migration's own", () => {
      const live = ['done', 'queued', 'preparing', 'running', 'completed'];
      expect(STATUSES.filter((s) => decide(migration({ status: 'accepted' }), s).kind !== 'invalid')).toEqual(
        STATUSES.filter((s) => !live.includes(s)),
      );
    });

    test('a live migration has no pre-migrating, migrating, finished, confirming, reverting, confirmed, reverted or done', () => {
      const live = migration({ moveType: 'live-migration', status: 'accepted' });
      const cold = [
        'pre-migrating',
        'migrating',
        'finished',
        'confirming',
        'reverting',
        'confirmed',
        'reverted',
        'done',
      ];
      for (const s of cold as MigrationStatus[]) expect([s, decide(live, s).kind]).toEqual([s, 'invalid']);
    });

    test('an evacuation has no finished, confirming, reverting, confirmed or reverted', () => {
      const evacuation = migration({ moveType: 'evacuation', status: 'accepted' });
      for (const s of ['finished', 'confirming', 'reverting', 'confirmed', 'reverted'] as const) {
        expect([s, decide(evacuation, s).kind]).toEqual([s, 'invalid']);
      }
    });

    test('the refusal names the kind of move and the status', () => {
      expect(decide(migration({ moveType: 'evacuation' }), 'finished')).toEqual({
        kind: 'invalid',
        reason: expect.stringMatching(/evacuation.*finished/),
      });
    });
  });

  describe('order', () => {
    const pairs = (later: boolean) =>
      ORDER.flatMap((from, i) =>
        ORDER.filter((_, j) => (later ? j > i : j < i))
          .flat()
          .flatMap((to) => from.map((f) => [f, to] as const)),
      );

    test.each(pairs(true))('%s then %s (later) applies', (from, to) => {
      expect(decide(migration({ status: from }), to)).toEqual({ kind: 'apply' });
    });

    test.each(pairs(false))('%s then %s (earlier) is ignored', (from, to) => {
      expect(decide(migration({ status: from }), to).kind).toBe('ignore');
    });

    test.each(ORDER.flat())('%s again is ignored', (s) => {
      expect(decide(migration({ status: s }), s)).toEqual({
        kind: 'ignore',
        reason: expect.stringContaining('does not come after'),
      });
    });

    test.each(
      MOVE_TYPES.flatMap((t) =>
        ORDER.flat()
          .filter((s) => LIFECYCLES[t].includes(s))
          .map((s) => [t, s] as const),
      ),
    )('a %s that is %s can end in any final status of its lifecycle (but for a crossing)', (moveType, from) => {
      const finals = LIFECYCLES[moveType].filter(isFinal);
      const m = migration({ moveType, status: from });
      expect(finals.map((s) => [s, decide(m, s).kind])).toEqual(
        finals.map((s) => [s, isCrossing(from, s) ? 'invalid' : 'apply']),
      );
    });
  });

  describe('confirming and reverting exclude each other', () => {
    test.each(CROSSINGS)('%s then %s is refused', (from, to) => {
      expect(decide(migration({ status: from }), to)).toEqual({
        kind: 'invalid',
        reason: expect.stringMatching(new RegExp(`${from}.*${to}`)),
      });
    });

    test.each([
      ['confirming', 'confirmed'],
      ['reverting', 'reverted'],
    ] as const)('%s then %s applies', (from, to) => {
      expect(decide(migration({ status: from }), to)).toEqual({ kind: 'apply' });
    });

    test.each(FAILURES.flatMap((f) => (['confirming', 'reverting'] as const).map((s) => [s, f] as const)))(
      '%s then %s applies',
      (from, to) => {
        expect(decide(migration({ status: from }), to)).toEqual({ kind: 'apply' });
      },
    );
  });

  describe('after a final status', () => {
    test.each(MOVE_TYPES.flatMap((t) => LIFECYCLES[t].filter(isFinal).map((s) => [t, s] as const)))(
      'a %s that is %s ignores every status of its lifecycle and still refuses the others',
      (moveType, final) => {
        const expected = Object.fromEntries(
          STATUSES.map((s) => [s, LIFECYCLES[moveType].includes(s) ? 'ignore' : 'invalid']),
        );
        expect(kinds(migration({ moveType, status: final }), 99)).toEqual(expected);
      },
    );

    test('the reason says the migration is already final', () => {
      expect(decide(migration({ status: 'confirmed' }), 'reverted')).toEqual({
        kind: 'ignore',
        reason: expect.stringContaining('already confirmed'),
      });
    });
  });

  describe('sequences', () => {
    const at7 = migration({ status: 'migrating', sequence: 7 });

    test.each([7, 6, 0, -1])('a sequence of %s, not after the 7 applied, is ignored', (sequence) => {
      expect(decide(at7, 'finished', sequence)).toEqual({
        kind: 'ignore',
        reason: expect.stringMatching(/sequence.*7/),
      });
    });

    test('a sequence after the one applied applies', () => {
      expect(decide(at7, 'finished', 8)).toEqual({ kind: 'apply' });
    });

    test('without a sequence only the status decides', () => {
      expect(decide(at7, 'finished')).toEqual({ kind: 'apply' });
    });

    test('a later sequence does not make an earlier status apply', () => {
      expect(decide(at7, 'pre-migrating', 8).kind).toBe('ignore');
    });
  });

  describe('precedence of the checks', () => {
    test('a status outside the lifecycle is refused even with a stale sequence', () => {
      expect(decide(migration({ sequence: 7 }), 'done', 3).kind).toBe('invalid');
    });

    test('a status outside the lifecycle is refused even after a final status', () => {
      expect(decide(migration({ status: 'confirmed' }), 'done').kind).toBe('invalid');
      expect(decide(migration({ moveType: 'evacuation', status: 'done' }), 'confirmed').kind).toBe('invalid');
    });

    test('a stale sequence is ignored before the final status is looked at', () => {
      expect(decide(migration({ status: 'confirmed', sequence: 7 }), 'reverted', 7)).toEqual({
        kind: 'ignore',
        reason: expect.stringContaining('sequence'),
      });
    });

    test.each(CROSSINGS)('a crossing (%s then %s) with a stale sequence is ignored, not refused', (from, to) => {
      expect(decide(migration({ status: from, sequence: 7 }), to, 7).kind).toBe('ignore');
    });

    test('a crossing to the same step (confirming then reverting) is refused rather than ignored as not later', () => {
      expect(decide(migration({ status: 'confirming' }), 'reverting').kind).toBe('invalid');
    });
  });
});

describe('placement: who holds what', () => {
  const claimed = [hold('A', 'instance', 'old'), hold('B', 'new', 'new')];
  const moved = [hold('A', 'old', 'old'), hold('B', 'instance', 'new')];
  const onSource = [hold('A', 'instance', 'old')];
  const onDest = [hold('B', 'instance', 'new')];
  const m = migration();

  test.each(['accepted', 'pre-migrating', 'migrating', 'post-migrating'] as const)(
    'until finished (%s) the instance stays on the source with its old size and the destination holds the new size',
    (s) => {
      expect(sorted(placement(m, s, s))).toEqual(sorted(claimed));
    },
  );

  test.each(['finished', 'confirming', 'reverting'] as const)(
    '%s: the instance is on the destination with its new size and the source holds the old size',
    (s) => {
      expect(sorted(placement(m, s, 'post-migrating'))).toEqual(sorted(moved));
    },
  );

  test.each(['confirmed', 'done'] as const)('%s: only the instance, on the destination with its new size', (s) => {
    expect(placement(m, s, 'finished')).toEqual(onDest);
  });

  test('reverted: only the instance, back on the source with its old size', () => {
    expect(placement(m, 'reverted', 'reverting')).toEqual(onSource);
  });

  const failuresAfter = (befores: readonly MigrationStatus[]) =>
    FAILURES.flatMap((f) => befores.map((b) => [f, b] as const));

  test.each(failuresAfter(['accepted', 'pre-migrating', 'migrating', 'post-migrating']))(
    '%s before finishing (from %s): only the instance, still on the source with its old size',
    (s, before) => {
      expect(placement(m, s, before)).toEqual(onSource);
    },
  );

  test.each(failuresAfter(['finished', 'confirming', 'reverting']))(
    '%s after finishing (from %s): only the instance, where it now runs, with its new size',
    (s, before) => {
      expect(placement(m, s, before)).toEqual(onDest);
    },
  );

  test('a same-host move holds both sides on the one node', () => {
    const n = sameHost();
    expect(sorted(placement(n, 'migrating', 'migrating'))).toEqual(
      sorted([hold('N', 'instance', 'old'), hold('N', 'new', 'new')]),
    );
    expect(sorted(placement(n, 'finished', 'finished'))).toEqual(
      sorted([hold('N', 'old', 'old'), hold('N', 'instance', 'new')]),
    );
    expect(placement(n, 'confirmed', 'finished')).toEqual([hold('N', 'instance', 'new')]);
    expect(placement(n, 'reverted', 'reverting')).toEqual([hold('N', 'instance', 'old')]);
  });
});

// ---- planning a change: the ledger model the walks check plans against ----

interface NodeTotal {
  used: Amounts;
  tracked: number;
}
type Totals = Record<string, NodeTotal>;

/** -0 and 0 are the same figure. */
const plain = (a: Amounts) => amounts(a.memoryMb + 0, a.diskGb + 0, a.vcpus + 0);
/** A plan's per-node changes as a plain object. */
const changes = (p: MovePlan) =>
  Object.fromEntries([...p.nodes].map(([id, c]) => [id, { ...c, amounts: plain(c.amounts) }]));

/** -0 and 0 are the same figure in the totals too. */
const tidy = (totals: Totals): Totals =>
  Object.fromEntries(Object.entries(totals).map(([id, t]) => [id, { used: plain(t.used), tracked: t.tracked }]));

const nodesOf = (m: Migration) => [...new Set([m.sourceNodeId, m.destNodeId])];

/** What the holdings placement() names add up to: their sizes, one item each (the stats follow the records, S6). */
function held(m: Migration, holdings: readonly Holding[]): Totals {
  const out: Totals = Object.fromEntries(nodesOf(m).map((id) => [id, { used: ZERO, tracked: 0 }]));
  for (const h of holdings) {
    const t = out[h.nodeId]!;
    out[h.nodeId] = { used: add(t.used, m[h.size].amounts), tracked: t.tracked + 1 };
  }
  return tidy(out);
}

/** A plan's per-node changes added to running totals. */
function applyPlan(totals: Totals, plan: MovePlan): Totals {
  const out = { ...totals };
  for (const [id, c] of plan.nodes) {
    const t = out[id]!;
    out[id] = { used: add(t.used, c.amounts), tracked: t.tracked + c.tracked };
  }
  return tidy(out);
}

const used = (t: NodeTotal | undefined) => (t ? `${t.used.memoryMb}/${t.used.diskGb}/${t.used.vcpus}` : 'no node');

function plan(m: Migration, current: readonly Holding[], target: readonly Holding[]): MovePlan {
  const p = planMove(m, [...current], [...target]);
  if ('refused' in p) throw new Error(`${m.status}: refused: ${p.refused}`);
  return p;
}

interface Step {
  status: MigrationStatus;
  plan: MovePlan;
  totals: Totals;
}

/**
 * Applies each status of `path` to `start` as the store would (decide, placement, planMove), keeping the
 * holdings and the per-node totals, and lists what breaks the rules at any step: the change does not
 * apply or is refused; a node gains usage; a hold removed is not there or one created already is; the
 * holdings or the running totals differ from what placement() says; one size is held twice on a node;
 * the devices freed are not exactly those of the sizes a node no longer holds; the host is not where the
 * instance is.
 */
function walk(start: Migration, path: readonly MigrationStatus[]): { steps: Step[]; problems: string[] } {
  let m = start;
  let holdings = placement(m, m.status, m.status);
  let totals = held(m, holdings);
  const steps: Step[] = [];
  const problems: string[] = [];
  const check = (ok: boolean, what: string, seen?: unknown) => {
    if (!ok)
      problems.push(
        `${m.moveType} ${m.status} → ${path[steps.length]}: ${what}${seen === undefined ? '' : ` ${JSON.stringify(seen)}`}`,
      );
    return ok;
  };
  for (const next of path) {
    if (!check(decide(m, next).kind === 'apply', 'does not apply')) break;
    // The store reads what is held from the current status alone: it must be what the last step left.
    check(
      isDeepStrictEqual(sorted(placement(m, m.status, m.status)), sorted(holdings)),
      'the status does not say what is held',
      holdings,
    );
    const target = placement(m, next, m.status);
    const p = planMove(m, holdings, target);
    if ('refused' in p) {
      check(false, 'refused', p.refused);
      break;
    }
    for (const [id, c] of p.nodes)
      check(
        RESOURCES.every((r) => c.amounts[r] <= 0),
        `node ${id} gains`,
        c.amounts,
      );
    const present = new Set(holdings.map(keyOf));
    const devicesBefore = holdings.map(devicesOf);
    check(
      p.remove.every((h) => present.has(keyOf(h))),
      'removes a hold that is not there',
      p.remove,
    );
    check(
      p.create.every((h) => !present.has(keyOf(h))),
      'creates a hold that is already there',
      p.create,
    );
    const removed = new Set(p.remove.map(keyOf));
    holdings = [...holdings.filter((h) => !removed.has(keyOf(h))), ...p.create];
    check(isDeepStrictEqual(sorted(holdings), sorted(target)), 'holds other than placement() says', holdings);
    check(new Set(holdings.map(devicesOf)).size === holdings.length, 'holds one size on one node twice', holdings);
    const kept = new Set(holdings.map(devicesOf));
    const gone = devicesBefore.filter((d) => !kept.has(d));
    check(
      isDeepStrictEqual(p.freed.map(devicesOf).sort(), gone.sort()),
      'frees other devices than those no longer held',
      p.freed,
    );
    totals = applyPlan(totals, p);
    check(isDeepStrictEqual(totals, held(m, target)), 'the totals differ from what placement() holds', totals);
    check(
      p.host === target.find((h) => h.role === 'instance')?.nodeId,
      'the host is not where the instance is',
      p.host,
    );
    steps.push({ status: next, plan: p, totals });
    m = { ...m, status: next };
  }
  return { steps, problems };
}

/** A walk that must break no rule. */
function walked(start: Migration, path: readonly MigrationStatus[]): Step[] {
  const { steps, problems } = walk(start, path);
  expect(problems).toEqual([]);
  return steps;
}

describe('planning a status change', () => {
  const m = migration();
  const claimed = placement(m, 'pre-migrating', 'pre-migrating');
  const moved = placement(m, 'finished', 'finished');

  test('remove is what is held and no longer wanted, create what is wanted and not yet held', () => {
    const p = plan(m, claimed, moved);
    expect(sorted(p.remove)).toEqual(sorted([hold('A', 'instance', 'old'), hold('B', 'new', 'new')]));
    expect(sorted(p.create)).toEqual(sorted([hold('A', 'old', 'old'), hold('B', 'instance', 'new')]));
  });

  test('finishing a cross-node move trades places: no usage changes hands, the instance record moves', () => {
    const p = plan(m, claimed, moved);
    expect(changes(p)).toEqual({ A: { amounts: ZERO, tracked: 0 }, B: { amounts: ZERO, tracked: 0 } });
    expect(p.host).toBe('B');
  });

  test('confirming releases the old size on the source only', () => {
    const p = plan(m, moved, placement(m, 'confirmed', 'finished'));
    expect([p.remove, p.create]).toEqual([[hold('A', 'old', 'old')], []]);
    expect(changes(p)).toEqual({ A: { amounts: amounts(-128, -1, -1), tracked: -1 } });
    expect(p.host).toBe('B');
  });

  test('reverting after finishing moves the instance back to the source and releases the new size on the destination', () => {
    const p = plan(m, moved, placement(m, 'reverted', 'reverting'));
    expect(changes(p)).toEqual({
      A: { amounts: ZERO, tracked: 0 },
      B: { amounts: amounts(-256, -5, -2), tracked: -1 },
    });
    expect(p.host).toBe('A');
  });

  test('a status that changes no holdings plans nothing, and the host stays the source', () => {
    const p = plan(m, claimed, placement(m, 'migrating', 'pre-migrating'));
    expect([p.remove, p.create, p.nodes.size, p.host]).toEqual([[], [], 0, 'A']);
  });

  test('the host is the node of the instance record, wherever it comes among the target holdings', () => {
    expect(plan(m, claimed, [hold('B', 'new', 'new'), hold('A', 'instance', 'old')]).host).toBe('A');
  });

  test('without an instance record among the target holdings the host is the source', () => {
    const noRecord = (hs: Holding[]) => hs.filter((h) => h.role !== 'instance');
    expect(plan(m, noRecord(claimed), noRecord(placement(m, 'failed', 'migrating'))).host).toBe('A');
    expect(plan(m, noRecord(moved), noRecord(placement(m, 'confirmed', 'finished'))).host).toBe('A');
  });

  test('a same-host size swap nets to nothing on the node: no usage, no items', () => {
    const n = sameHost();
    const p = plan(n, placement(n, 'post-migrating', 'post-migrating'), placement(n, 'finished', 'post-migrating'));
    expect([p.remove.length, p.create.length]).toEqual([2, 2]);
    expect(changes(p)).toEqual({ N: { amounts: ZERO, tracked: 0 } });
    expect(p.host).toBe('N');
  });

  describe('PCI devices freed: only the holdings that go for good, not those trading places', () => {
    const n = sameHost();
    test.each<[string, Migration, MigrationStatus, MigrationStatus, Holding[]]>([
      ['finishing across nodes', m, 'post-migrating', 'finished', []],
      ['confirming across nodes (the old size on the source)', m, 'confirming', 'confirmed', [hold('A', 'old', 'old')]],
      [
        'reverting across nodes (the new size on the destination)',
        m,
        'reverting',
        'reverted',
        [hold('B', 'instance', 'new')],
      ],
      ['failing before finishing (the destination hold)', m, 'migrating', 'failed', [hold('B', 'new', 'new')]],
      ['failing after finishing (the source hold)', m, 'finished', 'error', [hold('A', 'old', 'old')]],
      [
        'confirming straight from pre-migrating (the old size on the source)',
        m,
        'pre-migrating',
        'confirmed',
        [hold('A', 'instance', 'old')],
      ],
      ['finishing on one host', n, 'post-migrating', 'finished', []],
      ['reverting on one host (the new size)', n, 'finished', 'reverted', [hold('N', 'instance', 'new')]],
      [
        'confirming on one host straight from pre-migrating (the old size)',
        n,
        'pre-migrating',
        'confirmed',
        [hold('N', 'instance', 'old')],
      ],
    ])('%s', (_, mig, from, to, freed) => {
      expect(plan(mig, placement(mig, from, from), placement(mig, to, from)).freed).toEqual(freed);
    });
  });

  describe('refusals: a node may never gain usage', () => {
    test('finishing without the destination hold would add the new size there: refused, naming the node', () => {
      const p = planMove(
        m,
        claimed.filter((h) => h.role !== 'new'),
        moved,
      );
      expect(p).toEqual({ refused: expect.stringContaining('node B') });
    });

    test('a same-host move finishing without its new hold is refused', () => {
      const n = sameHost();
      const p = planMove(n, [hold('N', 'instance', 'old')], placement(n, 'finished', 'migrating'));
      expect(p).toEqual({ refused: expect.stringContaining('node N') });
    });

    test.each(RESOURCES)('a gain in %s alone is refused, whatever the other resources give back', (r) => {
      const bigger = { ...amounts(-10, -10, -10), [r]: 1 };
      const n = sameHost({ old: sizing(F1, amounts(20, 20, 20)), new: sizing(F1, add(amounts(20, 20, 20), bigger)) });
      // Straight to confirmed with the new hold gone: the instance record swaps old for new in place.
      const p = planMove(n, [hold('N', 'instance', 'old')], placement(n, 'confirmed', 'migrating'));
      expect('refused' in p).toBe(true);
    });

    test('giving back in every resource is not refused', () => {
      const n = sameHost({ old: sizing(F2), new: sizing(F1) });
      const p = planMove(n, [hold('N', 'instance', 'old')], placement(n, 'confirmed', 'migrating'));
      expect('refused' in p).toBe(false);
    });
  });
});

describe('whole moves on nodes of N0 (I1 resized from F1 = 128/1/1 to F2 = 256/5/2)', () => {
  const usedPerStep = (steps: Step[], ...ids: string[]) =>
    steps.map((s) => [s.status, ...ids.map((id) => used(s.totals[id]))]);

  const BOTH_HELD = ['128/1/1', '256/5/2'];
  const ONLY_ON = { A: ['128/1/1', '0/0/0'], B: ['0/0/0', '256/5/2'] };

  test.each([
    [
      'confirmed',
      'the source keeps the old size until the confirmation',
      'B',
      ['pre-migrating', 'migrating', 'post-migrating', 'finished', 'confirming', 'confirmed'],
    ],
    [
      'reverted',
      'the destination releases and the instance is back on the source with its old size',
      'A',
      ['finished', 'reverting', 'reverted'],
    ],
  ] as const)('cross-node, %s: %s', (_final, _what, endsOn, path) => {
    const steps = walked(migration({ status: 'accepted' }), path);
    const last = steps.length - 1;
    expect(usedPerStep(steps, 'A', 'B')).toEqual(path.map((s, i) => [s, ...(i < last ? BOTH_HELD : ONLY_ON[endsOn])]));
    const moved = (s: MigrationStatus) => ['finished', 'confirming', 'reverting'].includes(s);
    expect(steps.map((s) => s.plan.host)).toEqual(path.map((s, i) => (i < last ? (moved(s) ? 'B' : 'A') : endsOn)));
    const ends = steps[last]!.totals;
    expect([ends.A?.tracked, ends.B?.tracked]).toEqual(endsOn === 'A' ? [1, 0] : [0, 1]);
  });

  test.each([
    ['confirmed', '256/5/2'],
    ['reverted', '128/1/1'],
  ] as const)('same host: 384/6/3 held from the claim through finished, then %s leaves %s', (final, after) => {
    const steps = walked(sameHost({ status: 'accepted' }), [
      'pre-migrating',
      'migrating',
      'post-migrating',
      'finished',
      final,
    ]);
    expect(usedPerStep(steps, 'N')).toEqual([
      ['pre-migrating', '384/6/3'],
      ['migrating', '384/6/3'],
      ['post-migrating', '384/6/3'],
      ['finished', '384/6/3'],
      [final, after],
    ]);
    expect(steps.at(-1)!.totals.N?.tracked).toBe(1);
  });
});

// ---- every path of every lifecycle ----

/** Every sequence of statuses that applies one after another, from accepted to a final status. */
function lifecyclePaths(moveType: MoveType): MigrationStatus[][] {
  const out: MigrationStatus[][] = [];
  const go = (m: Migration, path: MigrationStatus[]) => {
    if (isFinal(m.status)) out.push(path);
    else for (const next of STATUSES) if (decide(m, next).kind === 'apply') go({ ...m, status: next }, [...path, next]);
  };
  go(migration({ moveType, status: 'accepted' }), []);
  return out;
}

/** Where the instance ends after `path`, as the rules say, and with which size. */
function ending(m: Migration, path: readonly MigrationStatus[]): [string, Amounts] {
  const last = path.at(-1)!;
  const before = path.at(-2) ?? 'accepted';
  const onDest =
    last === 'confirmed' ||
    last === 'done' ||
    last === 'completed' ||
    (last !== 'reverted' && ['finished', 'confirming', 'reverting'].includes(before));
  return onDest ? [m.destNodeId, m.new.amounts] : [m.sourceNodeId, m.old.amounts];
}

describe('every path of every lifecycle', () => {
  test.each([
    ['resize', 208],
    ['migration', 208],
    ['evacuation', 32],
    ['live-migration', 64],
  ] as const)('the search finds every path of a %s (%i)', (moveType, count) => {
    const paths = lifecyclePaths(moveType);
    expect(paths).toHaveLength(count);
    expect(new Set(paths.map((p) => p.join(' '))).size).toBe(count);
    const shortest = { evacuation: ['done'], 'live-migration': ['completed'] } as Partial<Record<MoveType, string[]>>;
    expect(paths).toContainEqual(shortest[moveType] ?? ['reverting', 'reverted']);
  });

  const sizes: [string, Sizing, Sizing][] = [
    ['to a larger flavor', sizing(F1), sizing(F2)],
    ['to a smaller flavor', sizing(F2), sizing(F1)],
    ['keeping the flavor', sizing(F1), sizing(F1)],
    ['to more memory but less disk and vCPU', sizing(F2), sizing(flavor({ memoryMb: 512, rootGb: 1, vcpus: 1 }))],
  ];
  const layouts: [string, Partial<Migration>][] = [
    ['across nodes', {}],
    ['on one host', { sourceNodeId: 'N', destNodeId: 'N' }],
  ];
  const article: Record<MoveType, string> = {
    resize: 'a resize',
    migration: 'a cold migration',
    evacuation: 'an evacuation',
    'live-migration': 'a live migration',
  };
  const cases = MOVE_TYPES.flatMap((moveType) =>
    layouts.flatMap(([where, nodes]) =>
      sizes.map(([how, old, next]) => [article[moveType], where, how, { moveType, old, new: next, ...nodes }] as const),
    ),
  );

  test.each(cases)(
    '%s %s %s: no step gains usage or drops a hold twice, and it ends with exactly the instance where it runs',
    (_kind, _where, _how, over) => {
      const start = migration({ ...over, status: 'accepted' });
      const problems: string[] = [];
      for (const path of lifecyclePaths(start.moveType)) {
        const run = walk(start, path);
        problems.push(...run.problems);
        const [node, size] = ending(start, path);
        const expected: Totals = Object.fromEntries(nodesOf(start).map((id) => [id, { used: ZERO, tracked: 0 }]));
        expected[node] = { used: size, tracked: 1 };
        const totals = run.steps.at(-1)?.totals;
        if (!isDeepStrictEqual(totals, tidy(expected)))
          problems.push(`${path.join(' → ')} ends with ${JSON.stringify(totals)}`);
      }
      expect(problems).toEqual([]);
    },
  );
});

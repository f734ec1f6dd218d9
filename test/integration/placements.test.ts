// Candidates and placements (rules G2-G6, G11) on DynamoDB Local: filters and weighing, a placement picks and
// claims, the same request again is the same answer, racing placements never overfill, gangs are all or none.
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { roomForVcpus, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { groupHostCount } from '../support/groups';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('placements');
  // Each request reads the fleet anew, unless a test says otherwise: tests register nodes right before using them.
  process.env.FLEET_VIEW_TTL_MS = '0';
});
afterAll(() => {
  delete process.env.FLEET_VIEW_TTL_MS;
});

const ONE = { vcpus: 1, memoryMb: 1, rootGb: 1 };
/** Nodes of one aggregate each test filters on, so tests of the file do not see each other's nodes. */
async function fleetOf(agg: string, specs: { vcpus: number; memoryMb?: number; traits?: string[] }[]) {
  const ids: string[] = [];
  for (const [i, s] of specs.entries()) {
    const id = `${agg}-${i}`;
    const body = {
      ...roomForVcpus(s.vcpus),
      ...(s.memoryMb ? { memoryMb: s.memoryMb } : {}),
      traits: s.traits ?? [],
      aggregates: [agg],
    };
    expect((await api('PUT', `/nodes/${id}`, body)).status).toBe(201);
    ids.push(id);
  }
  return ids;
}
const place = (agg: string, extra: Record<string, unknown> = {}) =>
  api('POST', '/placements', { instanceUuid: uuid(), flavor: ONE, memberOf: [agg], ...extra });

describe('candidates', () => {
  test('GET filters by traits and aggregates, spreads by free memory, and pack reverses it', async () => {
    await fleetOf('c1', [
      { vcpus: 4, memoryMb: 1000, traits: ['CUSTOM_GPU'] },
      { vcpus: 4, memoryMb: 3000, traits: ['CUSTOM_GPU', 'CUSTOM_SLOW'] },
      { vcpus: 4, memoryMb: 2000, traits: ['CUSTOM_GPU'] },
      { vcpus: 4, memoryMb: 9000 },
    ]);
    const spread = await api('GET', '/candidates?vcpus=1&memoryMb=10&diskGb=1&required=CUSTOM_GPU&memberOf=c1');
    expect(spread.status).toBe(200);
    expect(spread.body.candidates.map((c: { nodeId: string }) => c.nodeId)).toEqual(['c1-1', 'c1-2', 'c1-0']);
    expect(spread.body.candidates[0]).toEqual({
      nodeId: 'c1-1',
      freeRamMb: 3000,
      freeDiskGb: 100000,
      vcpusFree: 4,
      weight: 1,
    });
    const pack = await api(
      'GET',
      '/candidates?memoryMb=10&required=CUSTOM_GPU&forbidden=CUSTOM_SLOW&memberOf=c1&strategy=pack',
    );
    expect(pack.body.candidates.map((c: { nodeId: string }) => c.nodeId)).toEqual(['c1-0', 'c1-2']);
    const none = await api('GET', '/candidates?memoryMb=5000&required=CUSTOM_GPU&memberOf=c1');
    expect(none.body.candidates).toEqual([]);
  });

  test('POST takes a claim body: limits and PCI requests count', async () => {
    await fleetOf('c2', [{ vcpus: 2 }, { vcpus: 8 }]);
    const body = { flavor: { vcpus: 4, memoryMb: 1, rootGb: 1 }, memberOf: ['c2'] };
    const reply = await api('POST', '/candidates', body);
    expect(reply.body.candidates.map((c: { nodeId: string }) => c.nodeId)).toEqual(['c2-1']);
    const unlimited = await api('POST', '/candidates', { ...body, limits: { vcpus: null } });
    expect(unlimited.body.candidates).toHaveLength(2);
    const pci = await api('POST', '/candidates', {
      ...body,
      pciRequests: [{ count: 1, spec: [{ vendorId: '8086' }] }],
    });
    expect(pci.body.candidates).toEqual([]);
  });

  test.each([
    ['/candidates?vcpus=-1', 'query.vcpus'],
    ['/candidates?required=lower', 'query.required.0'],
    ['/candidates?strategy=random', 'query.strategy'],
    ['/candidates?limit=0', 'query.limit'],
    ['/candidates?dryRun=1', 'dryRun'],
  ])('GET %s is 400', async (path, where) => {
    const reply = await api('GET', path);
    expect(reply.status).toBe(400);
    expect(reply.body.issues[0].path).toBe(where);
  });
});

describe('placements', () => {
  test('placed on the best node (201), the same request again is 200 with the same answer', async () => {
    await fleetOf('p1', [
      { vcpus: 4, memoryMb: 100 },
      { vcpus: 4, memoryMb: 500 },
    ]);
    const body = { instanceUuid: uuid(), flavor: ONE, memberOf: ['p1'] };
    const first = await api('POST', '/placements', body);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      nodeId: 'p1-1',
      attempts: 1,
      claim: { nodeId: 'p1-1', instanceUuid: body.instanceUuid },
    });
    const again = await api('POST', '/placements', body);
    expect(again).toMatchObject({ status: 200, body: first.body });
    const other = await api('POST', '/placements', { ...body, flavor: { ...ONE, vcpus: 2 } });
    expect(other.body.error).toBe('InstanceConflict');
    expect((await expectLedgerExact(store, 'p1-1')).instances).toHaveLength(1);
  });

  test("none fits: 409 NoValidHost with Nova's text and the reasons per resource class, nothing written", async () => {
    await fleetOf('p2', [{ vcpus: 1, traits: ['CUSTOM_A'] }, { vcpus: 1 }]);
    const reply = await place('p2', { flavor: { ...ONE, vcpus: 2 } });
    expect(reply.status).toBe(409);
    expect(reply.body).toMatchObject({
      error: 'NoValidHost',
      message: 'No valid host was found. There are not enough hosts available.',
      refusals: { VCPU: 2 },
    });
    const traits = await place('p2', { required: ['CUSTOM_B'] });
    expect(traits.body.refusals).toEqual({ TRAITS: 2 });
    for (const id of ['p2-0', 'p2-1']) expect((await expectLedgerExact(store, id)).instances).toHaveLength(0);
  });

  test('a stale view costs a retry on another node, never an overfilled node', async () => {
    const [a, b] = await fleetOf('p3', [
      { vcpus: 1, memoryMb: 900 },
      { vcpus: 1, memoryMb: 100 },
    ]);
    // Load the view, then fill the best node behind it, and keep the view.
    await api('GET', '/candidates?memberOf=p3');
    process.env.FLEET_VIEW_TTL_MS = '600000';
    expect((await api('POST', `/nodes/${a}/instances`, { instanceUuid: uuid(), flavor: ONE })).status).toBe(201);
    const reply = await place('p3');
    process.env.FLEET_VIEW_TTL_MS = '0';
    expect(reply).toMatchObject({ status: 201, body: { nodeId: b, attempts: 2 } });
    expect((await expectLedgerExact(store, a!)).node.vcpusUsed).toBe(1);
  });

  test('24 placements race for the last 10 places of a nearly full fleet: exactly 10 land, each once, no node over', async () => {
    const ids = await fleetOf('p4', [{ vcpus: 3 }, { vcpus: 3 }, { vcpus: 2 }, { vcpus: 2 }]);
    const replies = await Promise.all(Array.from({ length: 24 }, () => place('p4')));
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    for (const r of replies.filter((x) => x.status !== 201)) expect(r.body.error).toBe('NoValidHost');
    const landed = replies.filter((r) => r.status === 201).map((r) => r.body.claim.instanceUuid);
    expect(new Set(landed).size).toBe(10);
    let held = 0;
    for (const id of ids) {
      const { node, instances } = await expectLedgerExact(store, id);
      expect(node.vcpusUsed).toBeLessThanOrEqual(node.vcpus);
      held += instances.length;
    }
    expect(held).toBe(10);
  });

  test('anti-affinity placements spread one per node and then find no valid host', async () => {
    await fleetOf('p5', [{ vcpus: 8 }, { vcpus: 8 }, { vcpus: 8 }]);
    await api('PUT', '/server-groups/g-p5', { policy: 'anti-affinity' });
    const replies = await Promise.all(Array.from({ length: 5 }, () => place('p5', { serverGroup: 'g-p5' })));
    const placed = replies.filter((r) => r.status === 201).map((r) => r.body.nodeId);
    expect(placed.sort()).toEqual(['p5-0', 'p5-1', 'p5-2']);
    for (const r of replies.filter((x) => x.status !== 201)) expect(r.body.error).toBe('NoValidHost');
  });

  test('400 for a malformed body, nothing placed', async () => {
    const reply = await api('POST', '/placements', { instanceUuid: uuid(), flavor: ONE, strategy: 'random' });
    expect(reply.status).toBe(400);
  });
});

describe('gangs', () => {
  test('a gang of 10 onto 9 anti-affine nodes is refused whole; 9 are placed all at once', async () => {
    const ids = await fleetOf(
      'g1',
      Array.from({ length: 9 }, () => ({ vcpus: 4 })),
    );
    await api('PUT', '/server-groups/g-g1', { policy: 'anti-affinity' });
    const gang = (n: number) => Array.from({ length: n }, () => ({ instanceUuid: uuid(), flavor: ONE }));
    const refused = await api('POST', '/placements', { instances: gang(10), serverGroup: 'g-g1', memberOf: ['g1'] });
    expect(refused).toMatchObject({ status: 409, body: { error: 'NoValidHost' } });
    for (const id of ids) expect((await expectLedgerExact(store, id)).instances).toHaveLength(0);
    expect((await api('GET', '/server-groups/g-g1')).body.members).toEqual([]);
    const body = { instances: gang(9), serverGroup: 'g-g1', memberOf: ['g1'] };
    const placed = await api('POST', '/placements', body);
    expect(placed.status).toBe(201);
    expect(new Set(placed.body.placements.map((p: { nodeId: string }) => p.nodeId)).size).toBe(9);
    const again = await api('POST', '/placements', body);
    expect(again).toMatchObject({ status: 200, body: placed.body });
  });

  test('an affinity gang lands on one node, its claims summed under one condition', async () => {
    await fleetOf('g2', [{ vcpus: 3 }, { vcpus: 5 }]);
    await api('PUT', '/server-groups/g-g2', { policy: 'affinity' });
    const instances = Array.from({ length: 4 }, () => ({ instanceUuid: uuid(), flavor: ONE }));
    const reply = await api('POST', '/placements', { instances, serverGroup: 'g-g2', memberOf: ['g2'] });
    expect(reply.status).toBe(201);
    expect(new Set(reply.body.placements.map((p: { nodeId: string }) => p.nodeId))).toEqual(new Set(['g2-1']));
    expect((await expectLedgerExact(store, 'g2-1')).node.vcpusUsed).toBe(4);
  });
});

describe('gang copies racing (rule G11)', () => {
  const gangOf = (n: number) => Array.from({ length: n }, () => ({ instanceUuid: uuid(), flavor: ONE }));
  const nodesOf = (reply: { body: { placements: { instanceUuid: string; nodeId: string }[] } }) =>
    reply.body.placements.map((p) => `${p.instanceUuid}@${p.nodeId}`).sort();

  test.each([
    ['an anti-affine gang', 2, true],
    ['a gang without a group', 1, false],
  ])(
    '%s sent 3 times at once onto a fleet with room for one copy: one placement, every copy answers it',
    async (name, vcpus, grouped) => {
      for (let trial = 0; trial < 4; trial++) {
        const agg = `gt${vcpus}${trial}`;
        const ids = await fleetOf(
          agg,
          Array.from({ length: 6 }, () => ({ vcpus })),
        );
        if (grouped) await api('PUT', `/server-groups/g-${agg}`, { policy: 'anti-affinity' });
        const body = { instances: gangOf(6), memberOf: [agg], ...(grouped ? { serverGroup: `g-${agg}` } : {}) };
        const replies = await Promise.all([1, 2, 3].map(() => api('POST', '/placements', body)));
        const statuses = replies.map((r) => r.status).sort();
        expect([trial, statuses]).toEqual([trial, [200, 200, 201]]);
        for (const r of replies) expect(nodesOf(r)).toEqual(nodesOf(replies[0]!));
        for (const id of ids) {
          expect((await expectLedgerExact(store, id)).instances).toHaveLength(1);
          if (grouped) expect(await groupHostCount(store, id, `g-${agg}`)).toBe(1);
        }
        if (grouped) expect((await api('GET', `/server-groups/g-${agg}`)).body.members).toHaveLength(6);
      }
    },
  );

  test('a different gang reusing one of its instance UUIDs at once is 409 InstanceConflict, the first placed once', async () => {
    const ids = await fleetOf(
      'gu',
      Array.from({ length: 4 }, () => ({ vcpus: 4 })),
    );
    const first = gangOf(3);
    const other = [{ ...first[1]!, flavor: { ...ONE, memoryMb: 2 } }, ...gangOf(1)];
    const [a, b] = await Promise.all([
      api('POST', '/placements', { instances: first, memberOf: ['gu'] }),
      api('POST', '/placements', { instances: other, memberOf: ['gu'] }),
    ]);
    const won = a.status === 201 ? a : b;
    const lost = won === a ? b : a;
    expect(won.status).toBe(201);
    expect(lost).toMatchObject({ status: 409, body: { error: 'InstanceConflict' } });
    let tracked = 0;
    for (const id of ids) tracked += (await expectLedgerExact(store, id)).instances.length;
    expect(tracked).toBe(won.body.placements.length);
  });
});

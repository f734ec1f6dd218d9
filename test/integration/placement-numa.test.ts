// Placement and server groups with NUMA (rules G5, G8, G9, G11 with NS3, NS4): a placement's claim fits the cells
// and moves on when they refuse; a member's claim writes its cells and its group items in one transaction, and its
// release gives both back in one; a gang takes no NUMA request.
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { groupHostCount } from '../support/groups';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('placement-numa');
  process.env.FLEET_VIEW_TTL_MS = '0';
});
afterAll(() => {
  delete process.env.FLEET_VIEW_TTL_MS;
});

/** One cell: shared CPUs 0-1, dedicated 2 .. 2+pcpus-1, each CPU its own core. */
const cell = (pcpus: number, memoryMb: number) => {
  const cpus = Array.from({ length: 2 + pcpus }, (_, i) => i);
  return {
    id: 0,
    cpuset: [0, 1],
    pcpuset: cpus.slice(2),
    memoryMb,
    siblings: cpus.map((c) => [c]),
    mempages: [{ sizeKb: 4, total: memoryMb * 256 }],
  };
};
const numaNode = (id: string, agg: string, pcpus: number, memoryMb: number) =>
  api('PUT', `/nodes/${id}`, {
    vcpus: 16,
    memoryMb,
    localGb: 100,
    aggregates: [agg],
    numaTopology: { cells: [cell(pcpus, memoryMb)] },
  });
const DEDICATED4 = { vcpus: 4, memoryMb: 1024, rootGb: 1, extraSpecs: { 'hw:cpu_policy': 'dedicated' } };

async function pinned(nodeId: string): Promise<number[]> {
  await expectLedgerExact(store, nodeId);
  return (await api('GET', `/nodes/${nodeId}`)).body.numaTopology.cells[0].pinnedCpus;
}

const hostCount = (nodeId: string, groupId: string) => groupHostCount(store, nodeId, groupId);

test('a placement whose best candidate cannot fit the NUMA request there moves on to the next', async () => {
  // pn-0 ranks first (more free memory) but has 2 dedicated pCPUs; pn-1 has 6.
  expect((await numaNode('pn-0', 'pn', 2, 16384)).status).toBe(201);
  expect((await numaNode('pn-1', 'pn', 6, 8192)).status).toBe(201);
  const placed = await api('POST', '/placements', { instanceUuid: uuid(), flavor: DEDICATED4, memberOf: ['pn'] });
  expect([placed.status, placed.body.nodeId, placed.body.attempts]).toEqual([201, 'pn-1', 2]);
  expect(placed.body.claim.numaTopology.cells[0].id).toBe(0);
  expect(await pinned('pn-0')).toEqual([]);
  expect(await pinned('pn-1')).toEqual([2, 3, 4, 5]);
});

test("a member's claim pins its cells and joins its group in one write; its release undoes both in one", async () => {
  expect((await numaNode('pg-0', 'pg', 6, 8192)).status).toBe(201);
  expect((await api('PUT', '/server-groups/g-numa', { policy: 'anti-affinity' })).status).toBe(201);
  const id = uuid();
  const body = { instanceUuid: id, flavor: DEDICATED4, serverGroup: 'g-numa' };
  const claimed = await api('POST', '/nodes/pg-0/instances', body);
  expect([claimed.status, claimed.body.serverGroup]).toEqual([201, 'g-numa']);
  expect([await pinned('pg-0'), await hostCount('pg-0', 'g-numa')]).toEqual([[2, 3, 4, 5], 1]);
  // The group refuses a second member here: nothing is pinned for it.
  const second = await api('POST', '/nodes/pg-0/instances', {
    ...body,
    instanceUuid: uuid(),
    flavor: { ...DEDICATED4, vcpus: 2 },
  });
  expect(second.body.error).toBe('GroupPolicyViolation');
  expect(await pinned('pg-0')).toEqual([2, 3, 4, 5]);
  expect((await api('DELETE', `/nodes/pg-0/instances/${id}`)).status).toBe(204);
  expect([await pinned('pg-0'), await hostCount('pg-0', 'g-numa')]).toEqual([[], 0]);
  expect((await api('GET', '/server-groups/g-numa')).body.members).toEqual([]);
});

test('a gang member with a NUMA request is 400 and nothing is claimed', async () => {
  expect((await numaNode('pk-0', 'pk', 6, 8192)).status).toBe(201);
  const member = { instanceUuid: uuid(), flavor: DEDICATED4 };
  const res = await api('POST', '/placements', { instances: [member], memberOf: ['pk'] });
  expect([res.status, res.body.error]).toEqual([400, 'ValidationError']);
  expect(res.body.message).toContain('gang members ask for no NUMA topology');
  expect(await pinned('pk-0')).toEqual([]);
  expect((await api('GET', `/nodes/pk-0/instances/${member.instanceUuid}`)).status).toBe(404);
});

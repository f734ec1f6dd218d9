// NUMA over HTTP on DynamoDB Local: the inventory, the worked examples of the spec as claims, releases and
// moves (docs/store.md rules NS1-NS6), the race for the last pCPUs and faults. Every scenario ends with the
// ledger exact, the cells included (usage and pins equal to the sum of the records and holds).
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { runtime } from '../../lib/api/runtime';
import { nodeKey } from '../../lib/store/items';
import { readNodePartition } from '../../lib/store/query';
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { uuid } from '../support/fixtures';
import { injectFaults } from '../support/faults';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('numa');
});

let seq = 0;
const fresh = (prefix: string) => `${prefix}-${++seq}`;
const NUMA_TEXT =
  'Insufficient compute resources: Requested instance NUMA topology cannot fit the given host NUMA topology.';

const plus = (xs: number[], n: number) => xs.map((x) => x + n);
/** Host HT2 of the examples: 2 cells of shared {0,4} and dedicated {1,2,3,5,6,7} (+8 on cell 1), SMT pairs. */
function ht2Cell(id: number, mempages: { sizeKb: number; total: number }[]) {
  const o = 8 * id;
  return {
    id,
    cpuset: plus([0, 4], o),
    pcpuset: plus([1, 2, 3, 5, 6, 7], o),
    memoryMb: 8192,
    siblings: [plus([0, 4], o), plus([1, 5], o), plus([2, 6], o), plus([3, 7], o)],
    mempages,
  };
}
const PINNING_PAGES = [
  { sizeKb: 4, total: 1572864 },
  { sizeKb: 2048, total: 1024 },
];
const HT2 = {
  vcpus: 16,
  memoryMb: 16384,
  localGb: 1000,
  numaTopology: { cells: [ht2Cell(0, PINNING_PAGES), ht2Cell(1, PINNING_PAGES)] },
};
const ded = (vcpus: number, memoryMb: number, specs: Record<string, string> = {}) => ({
  vcpus,
  memoryMb,
  rootGb: 10,
  extraSpecs: { 'hw:cpu_policy': 'dedicated', ...specs },
});

async function node(body: object, prefix = 'numa') {
  const id = fresh(prefix);
  const res = await api('PUT', `/nodes/${id}`, body);
  expect(res.status).toBe(201);
  return id;
}

function claim(nodeId: string, flavor: object, extra: object = {}, instanceUuid = uuid()) {
  return api('POST', `/nodes/${nodeId}/instances`, { instanceUuid, flavor, ...extra });
}

async function cells(nodeId: string) {
  await expectLedgerExact(store, nodeId);
  const n = (await api('GET', `/nodes/${nodeId}`)).body;
  return n.numaTopology.cells as {
    id: number;
    cpuUsage: number;
    memoryUsageMb: number;
    pinnedCpus: number[];
    mempages: { sizeKb: number; used: number }[];
    unknownPinnedCpus?: number[];
    reported?: false;
  }[];
}
const pages = (c: { mempages: { sizeKb: number; used: number }[] }, sizeKb: number) =>
  c.mempages.find((p) => p.sizeKb === sizeKb)?.used;
const used = async (nodeId: string) => {
  const n = (await api('GET', `/nodes/${nodeId}`)).body;
  return `${n.memoryMbUsed}/${n.localGbUsed}/${n.vcpusUsed}`;
};
const hostCellsOf = (body: { numaTopology: { cells: { id: number }[] } | null }) =>
  body.numaTopology?.cells.map((c) => c.id);

describe('inventory', () => {
  // Left behind, a deleted node's cells would be the cells of a node registered again under its id.
  test('a node registered again over the cells a delete that stopped halfway left has none of them', async () => {
    const n = await node(HT2);
    // The delete died once the node item was gone, and its client never sent it again.
    await store.doc.send(new DeleteCommand({ TableName: store.tableName, Key: nodeKey(n) }));
    expect((await api('PUT', `/nodes/${n}`, { vcpus: 16, memoryMb: 16384, localGb: 1000 })).status).toBe(201);
    expect((await api('GET', `/nodes/${n}`)).body.numaTopology ?? null).toBeNull();
    expect((await readNodePartition(store, n)).map((i) => i.sk)).toEqual(['NODE']);
  });

  test('a deleted node leaves nothing behind: registered again without a topology, it has no cells', async () => {
    const nic = { address: '0000:81:00.0', vendorId: '8086', productId: '1520', numaNode: 0 };
    const n = await node({ ...HT2, pciDevices: [nic] });
    const group = `g-${n}`;
    expect((await api('PUT', `/server-groups/${group}`, { policy: 'anti-affinity' })).status).toBe(201);
    const i = uuid();
    expect((await claim(n, ded(2, 1024), { serverGroup: group }, i)).status).toBe(201);
    expect((await api('DELETE', `/nodes/${n}/instances/${i}`)).status).toBe(204);
    expect((await readNodePartition(store, n)).length).toBeGreaterThan(3);
    expect((await api('DELETE', `/nodes/${n}`)).status).toBe(204);
    expect(await readNodePartition(store, n)).toEqual([]);
    expect((await api('PUT', `/nodes/${n}`, { vcpus: 16, memoryMb: 16384, localGb: 1000 })).status).toBe(201);
    const view = (await api('GET', `/nodes/${n}`)).body;
    expect({ numa: view.numaTopology ?? null, pools: view.pciDevicePools }).toEqual({ numa: null, pools: [] });
  });

  test('PUT takes a topology and the view shows it with zero usage; GET and the list agree', async () => {
    const n = await node(HT2);
    const view = (await api('GET', `/nodes/${n}`)).body;
    expect(view.numaTopology.cells).toEqual(
      [0, 1].map((id) => ({
        ...ht2Cell(id, []),
        cpuUsage: 0,
        memoryUsageMb: 0,
        pinnedCpus: [],
        mempages: PINNING_PAGES.map((p) => ({ ...p, reserved: 0, used: 0 })),
      })),
    );
    const listed = (await api('GET', '/nodes?limit=1000')).body.nodes.find((x: { nodeId: string }) => x.nodeId === n);
    expect(listed.numaTopology).toEqual(view.numaTopology);
    await expectLedgerExact(store, n);
  });

  test('replacing the topology keeps usage and pins; a pinned CPU no longer reported stays pinned, shown as such', async () => {
    const n = await node(HT2);
    const i = uuid();
    expect((await claim(n, ded(2, 2048), {}, i)).status).toBe(201);
    expect((await cells(n))[0]?.pinnedCpus).toEqual([1, 5]);
    // Cell 0 loses pCPU 5; cell 1 is no longer reported at all.
    const shrunk = { ...ht2Cell(0, PINNING_PAGES), pcpuset: [1, 2, 3, 6, 7], siblings: [[0, 4], [1], [2, 6], [3, 7]] };
    expect((await api('PUT', `/nodes/${n}`, { ...HT2, numaTopology: { cells: [shrunk] } })).status).toBe(200);
    let now = await cells(n);
    expect(now.map((c) => c.id)).toEqual([0]);
    expect(now[0]).toMatchObject({ pinnedCpus: [1, 5], unknownPinnedCpus: [5], memoryUsageMb: 2048 });
    // A pinned cell that disappears entirely is kept, unreported, until its claims are released.
    expect(
      (await api('PUT', `/nodes/${n}`, { ...HT2, numaTopology: { cells: [ht2Cell(1, PINNING_PAGES)] } })).status,
    ).toBe(200);
    now = await cells(n);
    expect(now.map((c) => [c.id, c.reported ?? true, c.pinnedCpus])).toEqual([
      [0, false, [1, 5]],
      [1, true, []],
    ]);
    // A new claim cannot land on the unreported cell.
    const other = await claim(n, ded(2, 2048));
    expect(other.status).toBe(201);
    expect(hostCellsOf(other.body)).toEqual([1]);
    expect((await api('DELETE', `/nodes/${n}/instances/${i}`)).status).toBe(204);
    expect((await cells(n)).find((c) => c.id === 0)).toMatchObject({ pinnedCpus: [], memoryUsageMb: 0 });
    // Released, the unreported cell goes with the next inventory.
    expect(
      (await api('PUT', `/nodes/${n}`, { ...HT2, numaTopology: { cells: [ht2Cell(1, PINNING_PAGES)] } })).status,
    ).toBe(200);
    expect((await cells(n)).map((c) => c.id)).toEqual([1]);
  });
});

describe('claims: the worked examples', () => {
  // Example E1/E2's host: 2 cells of 4 shared CPUs and 4096 MB of 4K pages; reserved 0.
  const sharedCell = (id: number) => ({
    id,
    cpuset: plus([0, 1, 2, 3], 4 * id),
    pcpuset: [],
    memoryMb: 4096,
    siblings: [],
    mempages: [{ sizeKb: 4, total: 1048576 }],
  });
  const SHARED = {
    vcpus: 8,
    memoryMb: 8192,
    localGb: 100,
    ramAllocationRatio: 2,
    reservedHostMemoryMb: 0,
    numaTopology: { cells: [sharedCell(0), sharedCell(1)] },
  };
  const s1 = { vcpus: 2, memoryMb: 3072, rootGb: 1, extraSpecs: { 'hw:numa_nodes': '1' } };
  const ratios = (cpu: number, ram: number) => ({
    limits: { numaTopology: { cpuAllocationRatio: cpu, ramAllocationRatio: ram } },
  });

  test('E1 and E2: shared cells spread, the ratio limits, equality passes, no limits no test, no NUMA no cells', async () => {
    const n = await node(SHARED);
    const one = await claim(n, s1, ratios(1, 1));
    expect(one.status).toBe(201);
    expect(one.body.numaTopology.cells).toEqual([
      { id: 0, memoryMb: 3072, pagesizeKb: null, cpuset: [0, 1], pcpuset: [], cpuPinning: {}, cpusetReserved: [] },
    ]);
    expect(hostCellsOf((await claim(n, s1, ratios(1, 1))).body)).toEqual([1]);
    let c = await cells(n);
    expect(c.map((x) => [x.memoryUsageMb, x.cpuUsage, pages(x, 4)])).toEqual([
      [3072, 2, 786432],
      [3072, 2, 786432],
    ]);
    const third = await claim(n, s1, ratios(1, 1));
    expect(third.status).toBe(409);
    expect(third.body).toMatchObject({ error: 'InsufficientResources', message: NUMA_TEXT });
    expect(hostCellsOf((await claim(n, s1, ratios(1, 1.5))).body)).toEqual([0]);
    expect(hostCellsOf((await claim(n, s1, ratios(1, 1.5))).body)).toEqual([1]);
    expect((await claim(n, s1, ratios(16, 1.5))).status).toBe(409);
    const unlimited = await claim(n, s1, { limits: { numaTopology: null } });
    expect(hostCellsOf(unlimited.body)).toEqual([0]);
    const plain = await claim(n, { vcpus: 2, memoryMb: 1024, rootGb: 1 }, ratios(1, 1));
    expect(plain.status).toBe(201);
    expect(plain.body.numaTopology).toBeUndefined();
    c = await cells(n);
    expect(c.map((x) => [x.memoryUsageMb, x.cpuUsage, pages(x, 4)])).toEqual([
      [9216, 6, 2359296],
      [6144, 4, 1572864],
    ]);
    expect(await used(n)).toBe('16384/6/12');
  });

  test('E5 to E8 on HT2: dedicated pairs, emulator threads, mixed, require refused, abort, retry, delete', async () => {
    const n = await node(HT2);
    const first = uuid();
    const e5 = await claim(n, ded(2, 2048), {}, first);
    expect(e5.status).toBe(201);
    expect(e5.body.numaTopology.cells[0]).toMatchObject({ id: 0, cpuPinning: { 0: 1, 1: 5 } });
    const c = await cells(n);
    expect(c[0]).toMatchObject({ pinnedCpus: [1, 5], memoryUsageMb: 2048, cpuUsage: 0 });
    expect(pages(c[0]!, 4)).toBe(524288);
    expect(await used(n)).toBe('2560/10/2');
    // The same claim again: 200, the same topology, nothing changes.
    const again = await api('POST', `/nodes/${n}/instances`, { instanceUuid: first, flavor: ded(2, 2048) });
    expect(again.status).toBe(200);
    expect(again.body.numaTopology).toEqual(e5.body.numaTopology);
    expect((await claim(n, ded(2, 2048))).body.numaTopology.cells[0]).toMatchObject({
      id: 1,
      cpuPinning: { 0: 9, 1: 13 },
    });
    // E6: emulator threads isolated reserve one more pCPU on the guest cell 0's host cell.
    const e6 = await claim(n, ded(2, 2048, { 'hw:emulator_threads_policy': 'isolate' }));
    expect(e6.body.numaTopology.cells[0]).toMatchObject({ id: 0, cpuPinning: { 0: 2, 1: 6 }, cpusetReserved: [3] });
    expect((await cells(n))[0]?.pinnedCpus).toEqual([1, 2, 3, 5, 6]);
    // E7: mixed, vCPUs 2-3 dedicated.
    const mixed = uuid();
    const mixedFlavor = {
      vcpus: 4,
      memoryMb: 4096,
      rootGb: 10,
      extraSpecs: { 'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '2-3' },
    };
    const e7 = await claim(n, mixedFlavor, {}, mixed);
    expect(e7.body.numaTopology.cells[0]).toMatchObject({ id: 1, cpuPinning: { 2: 10, 3: 14 } });
    expect((await cells(n))[1]).toMatchObject({ cpuUsage: 2, memoryUsageMb: 6144, pinnedCpus: [9, 10, 13, 14] });
    // E8 #5: require with 1 free pCPU on cell 0 and 2 on cell 1 is refused.
    const require = await claim(n, ded(4, 2048, { 'hw:cpu_thread_policy': 'require' }));
    expect(require.status).toBe(409);
    expect(require.body.message).toBe(NUMA_TEXT);
    // #6: the abort frees exactly what E7 took; #8 the retry fits.
    expect((await api('DELETE', `/nodes/${n}/instances/${mixed}`)).status).toBe(204);
    expect((await cells(n))[1]).toMatchObject({ cpuUsage: 0, memoryUsageMb: 2048, pinnedCpus: [9, 13] });
    const retry = await claim(n, ded(4, 2048, { 'hw:cpu_thread_policy': 'require' }));
    expect(retry.body.numaTopology.cells[0]).toMatchObject({ id: 1, cpuPinning: { 0: 10, 1: 14, 2: 11, 3: 15 } });
    // #9: the audit finds nothing to repair.
    const audit = await api('POST', `/nodes/${n}/audit`, {});
    expect(audit.body.drift).toEqual({ memoryMbUsed: 0, localGbUsed: 0, vcpusUsed: 0 });
    expect(await used(n)).toBe('8704/40/10');
    // #10: deleted.
    expect((await api('PATCH', `/nodes/${n}/instances/${first}`, { vmState: 'deleted' })).status).toBe(200);
    expect((await cells(n))[0]?.pinnedCpus).toEqual([2, 3, 6]);
  });

  test('E9: huge pages, reserved pages, page sizes the cell lacks, multiples, small, any', async () => {
    const pagesCell = (id: number, big: { sizeKb: number; total: number; reserved?: number }) => ({
      id,
      cpuset: plus([0, 1, 2, 3], 4 * id),
      pcpuset: [],
      memoryMb: 4096,
      siblings: [],
      mempages: [{ sizeKb: 4, total: 524288 }, big],
    });
    const n = await node({
      vcpus: 8,
      memoryMb: 8192,
      localGb: 100,
      numaTopology: {
        cells: [
          pagesCell(0, { sizeKb: 2048, total: 1024, reserved: 256 }),
          pagesCell(1, { sizeKb: 1048576, total: 2 }),
        ],
      },
    });
    const sized = (memoryMb: number, page: string) => ({
      vcpus: 1,
      memoryMb,
      rootGb: 1,
      extraSpecs: { 'hw:mem_page_size': page },
    });
    const large = uuid();
    const one = await claim(n, sized(1024, 'large'), {}, large);
    expect(one.body.numaTopology.cells[0]).toMatchObject({ id: 0, pagesizeKb: 2048 });
    expect(pages((await cells(n))[0]!, 2048)).toBe(512);
    expect((await claim(n, sized(1024, '2048'))).status).toBe(409);
    expect(hostCellsOf((await claim(n, sized(1024, '1GB'))).body)).toEqual([1]);
    expect(hostCellsOf((await claim(n, sized(1024, '1GB'))).body)).toEqual([1]);
    expect((await claim(n, sized(1024, '1GB'))).status).toBe(409);
    expect((await claim(n, sized(1500, '1GB'))).status).toBe(409);
    const small = await claim(n, sized(2048, 'small'));
    expect(small.body.numaTopology.cells[0]).toMatchObject({ id: 0, pagesizeKb: 4 });
    expect(hostCellsOf((await claim(n, sized(2048, 'small'))).body)).toEqual([1]);
    const none = await claim(n, { vcpus: 1, memoryMb: 3000, rootGb: 1, extraSpecs: { 'hw:numa_nodes': '1' } });
    expect(none.status).toBe(409);
    expect((await claim(n, sized(1024, 'any'))).status).toBe(409);
    expect((await api('DELETE', `/nodes/${n}/instances/${large}`)).status).toBe(204);
    expect(pages((await cells(n))[0]!, 2048)).toBe(0);
  });

  test('E18: a node without a topology ignores the request and stores numaTopology null', async () => {
    const n = await node({ vcpus: 16, memoryMb: 16384, localGb: 1000 });
    const res = await claim(n, ded(2, 2048));
    expect(res.status).toBe(201);
    expect(res.body.numaTopology).toBeNull();
    expect(await used(n)).toBe('2560/10/2');
    expect((await api('GET', `/nodes/${n}/instances/${res.body.instanceUuid}`)).body.numaTopology).toBeNull();
  });

  test('the refusal lists the scalar reasons first, then the NUMA one', async () => {
    const n = await node({ ...HT2, vcpus: 1, cpuAllocationRatio: 1 });
    const res = await claim(n, ded(8, 2048));
    expect(res.status).toBe(409);
    expect(res.body.reasons).toEqual([
      'Free vcpu 1.00 VCPU < requested 8 VCPU',
      'Requested instance NUMA topology cannot fit the given host NUMA topology',
    ]);
  });
});

describe('NUMA with PCI devices', () => {
  const device = (address: string, numaNode: number) => ({ address, vendorId: '8086', productId: '1572', numaNode });
  const pciRequests = [{ count: 1, spec: [{ vendorId: '8086', productId: '1572' }] }];

  test('the fit chooses the device on its cell (legacy policy), and refuses with the PCI texts', async () => {
    const n = await node({ ...HT2, pciDevices: [device('0000:81:00.0', 1)] });
    // Cell 0 comes first for a dedicated guest, but the only device is on cell 1.
    const res = await claim(n, ded(2, 2048), { pciRequests });
    expect(res.status).toBe(201);
    expect(hostCellsOf(res.body)).toEqual([1]);
    expect(res.body.pciDevices).toEqual(['0000:81:00.0']);
    // The device is taken: the count alone is short now.
    const short = await claim(n, ded(2, 2048), { pciRequests });
    expect(short.status).toBe(409);
    expect(short.body.message).toBe(
      'Insufficient compute resources: Requested instance NUMA topology together with requested PCI devices cannot fit the given host NUMA topology; Claim pci failed.',
    );
    await cells(n);
  });

  test('required affinity refuses a device on a full cell; preferred takes it from the other cell', async () => {
    const n = await node({ ...HT2, pciDevices: [device('0000:82:00.0', 0)] });
    expect(hostCellsOf((await claim(n, ded(6, 1024))).body)).toEqual([0]);
    const required = await claim(n, ded(2, 1024, { 'hw:pci_numa_affinity_policy': 'required' }), { pciRequests });
    expect(required.status).toBe(409);
    expect(required.body.message).toBe(
      'Insufficient compute resources: Requested instance NUMA topology together with requested PCI devices cannot fit the given host NUMA topology.',
    );
    const preferred = await claim(n, ded(2, 1024, { 'hw:pci_numa_affinity_policy': 'preferred' }), { pciRequests });
    expect(preferred.status).toBe(201);
    expect(hostCellsOf(preferred.body)).toEqual([1]);
    expect(preferred.body.pciDevices).toEqual(['0000:82:00.0']);
    await cells(n);
  });
});

describe('moves', () => {
  const RESIZE_PAGES = [{ sizeKb: 4, total: 2097152 }];
  const RESIZE = {
    vcpus: 16,
    memoryMb: 16384,
    localGb: 1000,
    numaTopology: { cells: [ht2Cell(0, RESIZE_PAGES), ht2Cell(1, RESIZE_PAGES)] },
  };

  test.each([
    ['confirmed', '4608/10/4', [[], [9, 10, 13, 14]]],
    ['reverted', '2560/10/2', [[1, 5], []]],
  ])('E13, corrected: a same-node resize holds old and new pins, audits agree, then %s', async (final, after, pins) => {
    const n = await node(RESIZE);
    const i = uuid();
    const e = await claim(n, ded(2, 2048), {}, i);
    expect(e.body.numaTopology.cells[0]).toMatchObject({ id: 0, cpuPinning: { 0: 1, 1: 5 } });
    const m = fresh('resize');
    const move = await api('POST', `/nodes/${n}/move-claims`, {
      migrationId: m,
      instanceUuid: i,
      moveType: 'resize',
      sourceNodeId: n,
      newFlavor: ded(4, 4096),
    });
    expect(move.status).toBe(201);
    expect(move.body.claim.numaTopology.cells[0]).toMatchObject({ id: 1 });
    expect(await used(n)).toBe('6656/20/6');
    const both = [
      [1, 5],
      [9, 10, 13, 14],
    ];
    expect((await cells(n)).map((c) => c.pinnedCpus)).toEqual(both);
    // Nova's audit fails here (A2); ours counts both sides and finds nothing to repair.
    expect((await api('POST', `/nodes/${n}/audit`, {})).body.drift).toEqual({
      memoryMbUsed: 0,
      localGbUsed: 0,
      vcpusUsed: 0,
    });
    expect((await api('POST', `/migrations/${m}/status`, { status: 'finished' })).status).toBe(200);
    expect((await cells(n)).map((c) => c.pinnedCpus)).toEqual(both);
    expect((await api('POST', `/nodes/${n}/audit`, {})).body.drift).toEqual({
      memoryMbUsed: 0,
      localGbUsed: 0,
      vcpusUsed: 0,
    });
    expect((await api('POST', `/migrations/${m}/status`, { status: final })).status).toBe(200);
    expect((await cells(n)).map((c) => c.pinnedCpus)).toEqual(pins);
    expect(await used(n)).toBe(after);
    const record = (await api('GET', `/nodes/${n}/instances/${i}`)).body;
    expect(hostCellsOf(record)).toEqual(final === 'confirmed' ? [1] : [0]);
  });

  test('a cold migration fits afresh on the destination; dropping its claim there frees the new pins', async () => {
    const src = await node(HT2);
    const dst = await node(HT2);
    const i = uuid();
    expect((await claim(src, ded(2, 2048), {}, i)).status).toBe(201);
    expect((await claim(dst, ded(2, 2048))).status).toBe(201);
    const m = fresh('cold');
    const move = await api('POST', `/nodes/${dst}/move-claims`, {
      migrationId: m,
      instanceUuid: i,
      moveType: 'migration',
      sourceNodeId: src,
    });
    expect(move.status).toBe(201);
    expect(move.body.claim.numaTopology.cells[0]).toMatchObject({ id: 1, cpuPinning: { 0: 9, 1: 13 } });
    expect((await cells(dst))[1]?.pinnedCpus).toEqual([9, 13]);
    expect((await api('DELETE', `/nodes/${dst}/move-claims/${m}`)).status).toBe(204);
    expect((await cells(dst))[1]?.pinnedCpus).toEqual([]);
    expect((await cells(src))[0]?.pinnedCpus).toEqual([1, 5]);
  });
});

describe('audit', () => {
  test('rebuilds the cells from the records, repairs drift, and reports shared pins without failing', async () => {
    const n = await node(HT2);
    const i = uuid();
    expect((await claim(n, ded(2, 2048), {}, i)).status).toBe(201);
    // Drift from outside the service: a pin and memory that no record holds.
    await store.doc.send(
      new UpdateCommand({
        TableName: store.tableName,
        Key: { pk: `NODE#${n}`, sk: 'NUMA#0000' },
        UpdateExpression: 'SET memoryUsageMb = :m ADD pinned :p',
        ExpressionAttributeValues: { ':m': 100, ':p': new Set([7]) },
      }),
    );
    const audit = await api('POST', `/nodes/${n}/audit`, {});
    expect(audit.status).toBe(200);
    expect(audit.body.numa.drift).toEqual([
      {
        cellId: 0,
        before: { cpuUsage: 0, memoryUsageMb: 100, pinnedCpus: [1, 5, 7], pagesUsed: { 4: 524288 } },
        after: { cpuUsage: 0, memoryUsageMb: 2048, pinnedCpus: [1, 5], pagesUsed: { 4: 524288 } },
      },
    ]);
    await cells(n);
    // A second record pinning the same CPUs (written by hand): reported with both instances, not a failure.
    const record = (
      await store.doc.send(
        new GetCommand({ TableName: store.tableName, Key: { pk: `NODE#${n}`, sk: `INSTANCE#${i}` } }),
      )
    ).Item;
    const twin = uuid();
    await store.doc.send(
      new PutCommand({ TableName: store.tableName, Item: { ...record, sk: `INSTANCE#${twin}`, instanceUuid: twin } }),
    );
    const again = await api('POST', `/nodes/${n}/audit`, {});
    expect(again.status).toBe(200);
    // Records are read in the order of their keys.
    const [a, b] = [i, twin].sort();
    expect(again.body.numa.problems).toEqual([
      `cell 0: CPU 1 pinned by ${a} and ${b}`,
      `cell 0: CPU 5 pinned by ${a} and ${b}`,
    ]);
  });
});

describe('concurrency and faults', () => {
  test('16 concurrent dedicated claims for the 12 free pCPUs of HT2: exactly 6 land, no pCPU pinned twice', async () => {
    const n = await node(HT2);
    const answers = await Promise.all(Array.from({ length: 16 }, () => claim(n, ded(2, 1024))));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([...Array(6).fill(201), ...Array(10).fill(409)]);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body.message).toBe(NUMA_TEXT);
    const pinned = answers
      .filter((a) => a.status === 201)
      .flatMap((a) => Object.values(a.body.numaTopology.cells[0].cpuPinning as Record<string, number>));
    expect(new Set(pinned).size).toBe(12);
    const c = await cells(n); // the ledger check: cells equal the sum of the records, no pin twice
    expect(c.map((x) => x.pinnedCpus.length)).toEqual([6, 6]);
  });

  test('shared and dedicated claims race on the same cells while releases race them: the cells stay exact', async () => {
    const n = await node(HT2);
    const held = [uuid(), uuid(), uuid()];
    for (const i of held) expect((await claim(n, ded(2, 1024), {}, i)).status).toBe(201);
    // One shared claim per cell fits its 2 shared CPUs at ratio 1.
    const shared = { vcpus: 2, memoryMb: 1024, rootGb: 1, extraSpecs: { 'hw:numa_nodes': '1' } };
    const limits = { limits: { numaTopology: { cpuAllocationRatio: 1, ramAllocationRatio: 1 } } };
    const [sharedAnswers, dedicatedAnswers, releases] = await Promise.all([
      Promise.all(Array.from({ length: 4 }, () => claim(n, shared, limits))),
      Promise.all(Array.from({ length: 4 }, () => claim(n, ded(2, 1024)))),
      Promise.all(held.map((i) => api('DELETE', `/nodes/${n}/instances/${i}`))),
    ]);
    expect(sharedAnswers.map((a) => a.status).sort()).toEqual([201, 201, 409, 409]);
    expect(releases.map((r) => r.status)).toEqual([204, 204, 204]);
    // 3 pairs were held: the last new one fits only if a release landed first.
    const landed = dedicatedAnswers.filter((a) => a.status === 201).length;
    expect(landed === 3 || landed === 4).toBe(true);
    const c = await cells(n); // the ledger check: usage and pins are exactly the records'
    expect(c.map((x) => x.cpuUsage)).toEqual([2, 2]);
    expect(c.reduce((k, x) => k + x.pinnedCpus.length, 0)).toBe(2 * landed);
  });

  test.each(['conflict', 'lost-response'] as const)('a NUMA claim that meets %s is counted once', async (fault) => {
    const n = await node(HT2);
    const faults = injectFaults(runtime().store, { command: 'TransactWriteItemsCommand', fault, times: 1 });
    try {
      const res = await claim(n, ded(2, 2048));
      expect(res.status).toBe(201);
      expect(faults.state.injected).toBe(1);
    } finally {
      faults.remove();
    }
    const c = await cells(n);
    expect(c.map((x) => x.pinnedCpus)).toEqual([[1, 5], []]);
    expect(await used(n)).toBe('2560/10/2');
  });

  test('a release whose answer is lost after it committed frees the pins once', async () => {
    const n = await node(HT2);
    const i = uuid();
    expect((await claim(n, ded(2, 2048), {}, i)).status).toBe(201);
    expect((await claim(n, ded(2, 2048))).status).toBe(201);
    const faults = injectFaults(runtime().store, {
      command: 'TransactWriteItemsCommand',
      fault: 'lost-response',
      times: 1,
    });
    try {
      expect((await api('DELETE', `/nodes/${n}/instances/${i}`)).status).toBe(204);
    } finally {
      faults.remove();
    }
    expect((await cells(n)).map((x) => x.pinnedCpus)).toEqual([[], [9, 13]]);
  });
});

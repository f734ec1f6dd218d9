// How many DynamoDB requests a NUMA claim takes (issue 14, rule NS7): from a store whose copy of the node's
// cells is fresh, the claim's one TransactWriteItems and nothing else; from a copy another store made stale,
// one failed write whose images correct the copy, then the claim, never pinning a CPU twice.
import { claimSchema } from '../../lib/api/schemas';
import type { InstanceRecord } from '../../lib/domain';
import { InsufficientResources } from '../../lib/errors';
import { claimInstance, createStore, releaseInstance, type Store } from '../../lib/store';
import { NumaCellCache } from '../../lib/store/numa-cell-cache';
import { api } from '../support/api';
import { uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { requestsSent } from '../support/requests';
import { freshTable } from '../support/table';

let table: Store;
beforeAll(async () => {
  table = await freshTable('numa-requests');
});

/** Host cells of 2 shared and 6 dedicated CPUs each, SMT pairs (the HT2 host of numa.test.ts). */
const cell = (id: number) => {
  const o = 8 * id;
  const plus = (xs: number[]) => xs.map((x) => x + o);
  return {
    id,
    cpuset: plus([0, 4]),
    pcpuset: plus([1, 2, 3, 5, 6, 7]),
    memoryMb: 8192,
    siblings: [plus([0, 4]), plus([1, 5]), plus([2, 6]), plus([3, 7])],
    mempages: [{ sizeKb: 4, total: 2097152 }],
  };
};
const host = { vcpus: 16, memoryMb: 16384, localGb: 1000, numaTopology: { cells: [cell(0), cell(1)] } };
const dedicated = (instanceUuid = uuid()) =>
  claimSchema.parse({
    instanceUuid,
    flavor: { vcpus: 2, memoryMb: 1024, rootGb: 1, extraSpecs: { 'hw:cpu_policy': 'dedicated' } },
  });

/**
 * A store as another Lambda container has one: its own client and copy of the cells. The copy is offered for
 * longer than in production so that what is counted is the requests, not how fast DynamoDB Local answers.
 */
const container = () =>
  createStore(
    { tableName: table.tableName, endpoint: process.env.DYNAMODB_ENDPOINT },
    { numaCells: new NumaCellCache(60_000) },
  );

async function node(id: string) {
  expect((await api('PUT', `/nodes/${id}`, host)).status).toBe(201);
  return id;
}

/** Every pinned host CPU of the records, which must all differ, and the ledger (cells included) exact. */
async function pinsOf(nodeId: string, records: InstanceRecord[]): Promise<number[]> {
  await expectLedgerExact(table, nodeId);
  const pins = records.flatMap((r) => (r.numaTaken ?? []).flatMap((t) => t.pin.map((cpu) => t.cellId * 100 + cpu)));
  expect(new Set(pins).size).toBe(pins.length);
  return pins;
}

test('a claim from a cold store reads the cells once; the next from the warm store is its transaction alone', async () => {
  const nodeId = await node('numa-r1');
  const store = container();
  const records: InstanceRecord[] = [];
  const cold = await requestsSent(store, async () =>
    records.push((await claimInstance(store, nodeId, dedicated())).record),
  );
  expect(cold).toEqual(['Query', 'TransactWriteItems']);
  for (let i = 0; i < 3; i++) {
    const warm = await requestsSent(store, async () =>
      records.push((await claimInstance(store, nodeId, dedicated())).record),
    );
    expect(warm).toEqual(['TransactWriteItems']);
  }
  expect(await pinsOf(nodeId, records)).toHaveLength(8);
  // A release reads the record and writes once; it moves the copy, so the next claim still reads nothing.
  const freed = records.shift() as InstanceRecord;
  expect(await requestsSent(store, () => releaseInstance(store, nodeId, freed.instanceUuid))).toEqual([
    'GetItem',
    'TransactWriteItems',
  ]);
  const again = await requestsSent(store, async () =>
    records.push((await claimInstance(store, nodeId, dedicated())).record),
  );
  expect(again).toEqual(['TransactWriteItems']);
  expect(await pinsOf(nodeId, records)).toHaveLength(8);
});

test('a claim whose copy another store made stale fails its conditions once, learns the cells, and lands', async () => {
  const nodeId = await node('numa-r2');
  const [mine, theirs] = [container(), container()];
  const first = (await claimInstance(mine, nodeId, dedicated())).record;
  // The other container reads the cells as they are now and takes the pins this one's copy shows free next.
  const other = (await claimInstance(theirs, nodeId, dedicated())).record;
  let second: InstanceRecord | undefined;
  const sent = await requestsSent(mine, async () => (second = (await claimInstance(mine, nodeId, dedicated())).record));
  // No read: the cancellation's image of the cell corrects the copy and the fit moves to CPUs still free.
  expect(sent).toEqual(['TransactWriteItems', 'TransactWriteItems']);
  const records = [first, other, second as InstanceRecord];
  expect(await pinsOf(nodeId, records)).toHaveLength(6);
  // The corrected copy is right again: one more claim from it is one write.
  const next = await requestsSent(mine, async () =>
    records.push((await claimInstance(mine, nodeId, dedicated())).record),
  );
  expect(next).toEqual(['TransactWriteItems']);
  expect(await pinsOf(nodeId, records)).toHaveLength(8);
});

test('a new inventory drops the copy: the claim after it fits on the cells as now reported', async () => {
  const nodeId = await node('numa-r3');
  const store = container();
  await claimInstance(store, nodeId, dedicated());
  // Reported again with cell 0's dedicated CPUs gone to shared: a copy kept would pin CPUs no longer dedicated.
  const shared = { ...cell(0), cpuset: [0, 1, 2, 3, 4, 5, 6, 7], pcpuset: [] };
  expect((await api('PUT', `/nodes/${nodeId}`, { ...host, numaTopology: { cells: [shared, cell(1)] } })).status).toBe(
    200,
  );
  let record: InstanceRecord | undefined;
  const sent = await requestsSent(
    store,
    async () => (record = (await claimInstance(store, nodeId, dedicated())).record),
  );
  expect(sent).toEqual(['TransactWriteItems', 'Query', 'TransactWriteItems']);
  expect(record?.numaTaken?.map((t) => t.cellId)).toEqual([1]);
  await expectLedgerExact(table, nodeId);
});

test('two warm stores claiming at once on one node never pin a CPU twice, and stop at what the cells hold', async () => {
  const nodeId = await node('numa-r4');
  const [a, b] = [container(), container()];
  // Both copies warm, each from its own first claim.
  const records = [
    (await claimInstance(a, nodeId, dedicated())).record,
    (await claimInstance(b, nodeId, dedicated())).record,
  ];
  // 12 dedicated CPUs, 2 per claim: 4 more fit, 6 are asked for at once.
  const outcomes = await Promise.allSettled(
    Array.from({ length: 6 }, (_, i) => claimInstance(i % 2 ? b : a, nodeId, dedicated())),
  );
  const landed = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.record] : []));
  const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as { code?: string }] : []));
  expect(landed).toHaveLength(4);
  expect(refused.map((e) => e.code)).toEqual(['InsufficientResources', 'InsufficientResources']);
  expect(await pinsOf(nodeId, [...records, ...landed])).toHaveLength(12);
});

// Rule NS8: a cell item made anew (its node deleted and registered again, or the cell gone and reported again)
// must not meet the conditions of a claim fitted on a copy of the cell it replaces.
describe('a copy of a cell that was replaced by a new cell at the same key', () => {
  /** One cell of `n` dedicated CPUs and no SMT. */
  const plainCell = (id: number, n: number) => ({
    id,
    cpuset: [100 + id],
    pcpuset: Array.from({ length: n }, (_, k) => 10 * id + k),
    memoryMb: 8192,
    mempages: [{ sizeKb: 4, total: 2097152 }],
  });
  const inventory = (...cells: ReturnType<typeof plainCell>[]) => ({ ...host, numaTopology: { cells } });
  const fourPinned = (instanceUuid = uuid()) =>
    claimSchema.parse({ ...dedicated(instanceUuid), flavor: { ...dedicated().flavor, vcpus: 4 } });

  test('the node deleted and registered again with a smaller cell: the claim fits on the new cell, or is refused', async () => {
    const nodeId = 'numa-r6';
    expect((await api('PUT', `/nodes/${nodeId}`, inventory(plainCell(0, 6)))).status).toBe(201);
    const store = container();
    const first = (await claimInstance(store, nodeId, fourPinned())).record;
    expect(await releaseInstance(store, nodeId, first.instanceUuid)).toBe(true);
    expect((await api('DELETE', `/nodes/${nodeId}`)).status).toBe(204);
    expect((await api('PUT', `/nodes/${nodeId}`, inventory(plainCell(0, 2)))).status).toBe(201);
    // The copy shows 6 free dedicated CPUs on cell 0; the cell has 2.
    await expect(claimInstance(store, nodeId, fourPinned())).rejects.toBeInstanceOf(InsufficientResources);
    await expectLedgerExact(table, nodeId);
    const fits = (await claimInstance(store, nodeId, dedicated())).record;
    expect(fits.numaTaken?.flatMap((t) => t.pin)).toEqual([0, 1]);
    await expectLedgerExact(table, nodeId);
  });

  test('a cell gone from the inventory and reported again, smaller, while another store holds a copy', async () => {
    const nodeId = 'numa-r7';
    expect((await api('PUT', `/nodes/${nodeId}`, inventory(plainCell(0, 2), plainCell(1, 6)))).status).toBe(201);
    const store = container();
    // A claim and its release leave the copy warm and every cell free, so cell 1 goes with the next inventory.
    const warm = (await claimInstance(store, nodeId, dedicated())).record;
    expect(await releaseInstance(store, nodeId, warm.instanceUuid)).toBe(true);
    expect((await api('PUT', `/nodes/${nodeId}`, inventory(plainCell(0, 2)))).status).toBe(200);
    expect((await api('PUT', `/nodes/${nodeId}`, inventory(plainCell(0, 2), plainCell(1, 2)))).status).toBe(200);
    // The copy shows 6 dedicated CPUs free on cell 1, which has 2 now: 4 fit on neither cell.
    await expect(claimInstance(store, nodeId, fourPinned())).rejects.toBeInstanceOf(InsufficientResources);
    await expectLedgerExact(table, nodeId);
  });
});

// The fleet summary on DynamoDB Local: the stream consumer folds node creates, claims and deletes; a redelivered or
// older batch changes nothing; a repair equals the node scan and writes only what differs; until one has made the
// summary whole nothing reads it; candidates through the summary equal the full read; a node deleted and registered
// again replaces the old node's entry (rule G13).
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { consume } from '../../functions/fleet-summary';
import { entryKey, listNodes, markerKey, readSummary, rebuildSummary, type Store } from '../../lib/store';
import { nodeKey } from '../../lib/store/items';
import { api } from '../support/api';
import { roomForVcpus, uuid } from '../support/fixtures';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('fleet-summary');
  process.env.FLEET_VIEW_TTL_MS = '0';
  process.env.FLEET_SHARDS = '7';
});
afterAll(() => {
  delete process.env.FLEET_VIEW_TTL_MS;
  delete process.env.FLEET_SHARDS;
});

const nodeItem = async (nodeId: string) =>
  (await store.doc.send(new GetCommand({ TableName: store.tableName, Key: nodeKey(nodeId), ConsistentRead: true })))
    .Item;

/** A stream record of the node item as it is now (or of its deletion, with the image it had). */
function record(nodeId: string, now?: Record<string, unknown>, before?: Record<string, unknown>): DynamoDBRecord {
  const image = (i?: Record<string, unknown>) => (i ? (marshall(i) as never) : undefined);
  return {
    eventName: now ? 'MODIFY' : 'REMOVE',
    dynamodb: { Keys: marshall(nodeKey(nodeId)) as never, NewImage: image(now), OldImage: image(before) },
  };
}
const fold = (records: DynamoDBRecord[]) => consume({ Records: records } as DynamoDBStreamEvent);

/** What the candidates see of a node: everything but stats and NUMA cells, which the summary leaves out. */
const seen = (nodes: Awaited<ReturnType<typeof listNodes>> | undefined) =>
  nodes?.map(({ stats: _s, numaCells: _c, ...rest }) => rest);

async function randomFleet(prefix: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  for (const [i, id] of ids.entries()) {
    const body = { ...roomForVcpus(2 + (i % 5)), traits: i % 2 ? ['HW_X'] : [], aggregates: [`${prefix}-${i % 3}`] };
    expect((await api('PUT', `/nodes/${id}`, body)).status).toBe(201);
  }
  return ids;
}

test('nothing reads the summary until a repair has made it whole with this many shards', async () => {
  await randomFleet('whole', 3);
  expect(await readSummary(store)).toBeUndefined();
  expect(await rebuildSummary(store)).toBe(3 + 1);
  expect(seen(await readSummary(store))).toEqual(seen(await listNodes(store)));
  // A summary cut into another number of shards is not this one.
  process.env.FLEET_SHARDS = '5';
  expect(await readSummary(store)).toBeUndefined();
  process.env.FLEET_SHARDS = '7';
  // A repair with nothing to mend writes only its marker.
  expect(await rebuildSummary(store)).toBe(1);
});

test('the consumer folds creates, claims and deletes; older and redelivered batches change nothing', async () => {
  const ids = await randomFleet('fold', 12);
  const created = await Promise.all(ids.map(nodeItem));
  expect((await fold(ids.map((id, i) => record(id, created[i])))).batchItemFailures).toEqual([]);
  expect(seen(await readSummary(store))).toEqual(seen(await listNodes(store)));

  const flavor = { vcpus: 1, memoryMb: 8, rootGb: 1 };
  expect((await api('POST', `/nodes/${ids[0]}/instances`, { instanceUuid: uuid(), flavor })).status).toBe(201);
  const claimed = await nodeItem(ids[0]!);
  await fold([record(ids[0]!, claimed)]);
  // The create again (a redelivered old batch) does not put the node's figures back before the claim.
  await fold([record(ids[0]!, created[0])]);
  await fold([record(ids[0]!, claimed)]);
  const viaSummary = (await readSummary(store))!.find((n) => n.nodeId === ids[0]);
  expect(viaSummary?.used.vcpus).toBe(1);
  expect(viaSummary?.generation).toBe(Number(claimed!.generation));

  expect((await api('DELETE', `/nodes/${ids[1]}`)).status).toBe(204);
  await fold([record(ids[1]!, undefined, created[1])]);
  await fold([record(ids[1]!, undefined, created[1])]);
  expect(seen(await readSummary(store))).toEqual(seen(await listNodes(store)));
});

test('a rebuild equals the node scan, and candidates through the summary equal those of the full read', async () => {
  const ids = await randomFleet('rebuild', 30);
  // An entry behind its node (no stream here), a missing one and one whose node is gone: each mended, nothing else.
  await rebuildSummary(store);
  const entry = (id: string) => ({ TableName: store.tableName, Key: entryKey(id) });
  const behind = (await store.doc.send(new GetCommand({ ...entry(ids[2]!), ConsistentRead: true }))).Item!;
  const flavor = { vcpus: 1, memoryMb: 8, rootGb: 1 };
  expect((await api('POST', `/nodes/${ids[2]}/instances`, { instanceUuid: uuid(), flavor })).status).toBe(201);
  await store.doc.send(new DeleteCommand(entry(ids[3]!)));
  await store.doc.send(new PutCommand({ TableName: store.tableName, Item: { ...behind, ...entryKey('gone') } }));
  expect(await rebuildSummary(store)).toBe(3 + 1);
  expect(seen(await readSummary(store))).toEqual(seen(await listNodes(store)));
  const ask = () =>
    api('POST', '/candidates', {
      flavor: { vcpus: 3, memoryMb: 8, rootGb: 1 },
      required: ['HW_X'],
      memberOf: ['rebuild-1'],
    });
  const summary = await ask();
  await store.doc.send(new DeleteCommand({ TableName: store.tableName, Key: markerKey }));
  const full = await ask();
  await rebuildSummary(store);
  expect(summary.status).toBe(200);
  expect(summary.body).toEqual(full.body);
  expect((full.body as { candidates: unknown[] }).candidates.length).toBeGreaterThan(0);
});

test('a node filled behind the summary costs a retry, never an overfill', async () => {
  const [a, b] = await randomFleet('behind', 2);
  await rebuildSummary(store);
  // Fill the roomier node (3 vCPUs against 2) without telling the summary.
  const flavor = { vcpus: 3, memoryMb: 8, rootGb: 1 };
  expect((await api('POST', `/nodes/${b}/instances`, { instanceUuid: uuid(), flavor })).status).toBe(201);
  const placed = await api('POST', '/placements', {
    instanceUuid: uuid(),
    flavor: { vcpus: 2, memoryMb: 8, rootGb: 1 },
    memberOf: ['behind-0', 'behind-1'],
  });
  expect(placed.status).toBe(201);
  expect(placed.body).toMatchObject({ nodeId: a, attempts: 2 });
});

test('the local feed seeds the summary, then follows the stream: claims, new nodes and deletes', async () => {
  const { startFleetFeed } = await import('../../local/fleet-feed');
  const ids = await randomFleet('feed', 6);
  const feed = await startFleetFeed(store, process.env.DYNAMODB_ENDPOINT!, 20);
  try {
    expect(seen(await readSummary(store))).toEqual(seen(await listNodes(store)));
    const flavor = { vcpus: 1, memoryMb: 8, rootGb: 1 };
    const claims = ids.map((id) => api('POST', `/nodes/${id}/instances`, { instanceUuid: uuid(), flavor }));
    expect((await Promise.all(claims)).map((r) => r.status)).toEqual(ids.map(() => 201));
    expect((await api('PUT', '/nodes/feed-new', roomForVcpus(3))).status).toBe(201);
    expect((await api('DELETE', '/nodes/feed-new')).status).toBe(204);
    expect((await api('PUT', '/nodes/feed-later', roomForVcpus(4))).status).toBe(201);
    await feed.caughtUp();
    const summary = seen(await readSummary(store));
    expect(summary).toEqual(seen(await listNodes(store)));
    expect(summary?.map((n) => n.nodeId)).toContain('feed-later');
    expect(summary?.map((n) => n.nodeId)).not.toContain('feed-new');
  } finally {
    await feed.stop();
  }
});

// Rule G13: a node deleted and registered again starts its generation over; its entries are ordered by when it
// was registered first, then by generation, so the new node's entries replace the old node's.
describe('a node deleted and registered again', () => {
  const flavor = { vcpus: 1, memoryMb: 8, rootGb: 1 };
  /** `nodeId` with a few claims and releases behind it (its generation past the new node's), then gone. */
  async function retired(nodeId: string) {
    expect((await api('PUT', `/nodes/${nodeId}`, roomForVcpus(8))).status).toBe(201);
    for (let k = 0; k < 3; k++) {
      const instanceUuid = uuid();
      expect((await api('POST', `/nodes/${nodeId}/instances`, { instanceUuid, flavor })).status).toBe(201);
      expect((await api('DELETE', `/nodes/${nodeId}/instances/${instanceUuid}`)).status).toBe(204);
    }
    const old = await nodeItem(nodeId);
    expect(Number(old?.generation)).toBeGreaterThan(3);
    await fold([record(nodeId, old)]);
    expect((await api('DELETE', `/nodes/${nodeId}`)).status).toBe(204);
    expect((await api('PUT', `/nodes/${nodeId}`, roomForVcpus(2))).status).toBe(201);
    return { old, now: await nodeItem(nodeId) };
  }
  const entryIn = async (nodeId: string) => (await readSummary(store))?.find((n) => n.nodeId === nodeId);

  test('its delete and its registration in one batch leave the new node in the summary', async () => {
    await rebuildSummary(store);
    const { old, now } = await retired('again-1');
    expect((await fold([record('again-1', undefined, old), record('again-1', now)])).batchItemFailures).toEqual([]);
    expect((await entryIn('again-1'))?.vcpus).toBe(2);
    // The old node's records redelivered change nothing.
    await fold([record('again-1', old)]);
    await fold([record('again-1', undefined, old)]);
    expect((await entryIn('again-1'))?.vcpus).toBe(2);
  });

  test('a repair replaces the old node entry the consumer left', async () => {
    await rebuildSummary(store);
    await retired('again-2');
    expect((await entryIn('again-2'))?.vcpus).toBe(8);
    await rebuildSummary(store);
    expect((await entryIn('again-2'))?.vcpus).toBe(2);
    expect(seen(await readSummary(store))).toEqual(seen(await listNodes(store)));
  });
});

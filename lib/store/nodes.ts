import { BatchGetCommand, BatchWriteCommand, DeleteCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  applyChanges,
  nodeLimits,
  onGrid,
  pools,
  reconcile,
  reserved,
  RESOURCES,
  type Inventory,
  type NodeLabels,
  type NodeState,
  type PciDevice,
  type PciDeviceSpec,
} from '../domain';
import { NodeInUse, NodeNotFound } from '../errors';
import type { Store } from './client';
import { Expression } from './expression';
import { COLUMNS, deviceKey, nodeKey, nodeStateOf } from './items';
import { commitOrStartOver, sendOne } from './commit';
import { deviceWrites, readNodeAndDevices } from './devices';
import { classifyDeleteNode, conditionFailed } from './outcomes';
import { withRetry } from './retry';
import { NODE_INDEX } from './table';
import type { HostCellInventory } from '../domain/numa-types';
import { cellIdsOf, cellKey, cellOf, putTopology, readNodeAndCells } from './numa-cells';

export interface PutNodeResult {
  created: boolean;
  node: NodeState;
}

/** The SET clauses that write inventory and recompute used and headroom from what claims hold. */
function inventoryClauses(
  e: Expression,
  nodeId: string,
  inventory: Inventory,
  pciPools?: object,
  labels?: NodeLabels,
): string[] {
  const zero = e.value(0);
  const set: string[] = [];
  // An audit's inventory leaves the labels as they are; a PUT replaces them (rule G1).
  for (const [attribute, value] of Object.entries({ ...inventory, ...labels, nodeId, type: 'node' })) {
    set.push(`${e.name(attribute)} = ${e.value(value)}`);
  }
  set.push(`${e.name(NODE_INDEX.partition)} = ${e.value('NODE')}`, `${e.name(NODE_INDEX.sort)} = ${e.value(nodeId)}`);
  const res = reserved(inventory);
  const limits = nodeLimits(inventory);
  for (const r of RESOURCES) {
    const c = COLUMNS[r];
    const claimed = `if_not_exists(${e.name(c.claimed)}, ${zero})`;
    set.push(
      `${e.name(c.claimed)} = ${claimed}`,
      `${e.name(c.used)} = ${claimed} + ${e.value(res[r])}`,
      `${e.name(c.headroom)} = ${e.value(onGrid(limits[r]) - res[r])} - ${claimed}`,
    );
  }
  set.push(
    `${e.name('stats')} = if_not_exists(${e.name('stats')}, ${e.value({})})`,
    `${e.name('trackedCount')} = if_not_exists(${e.name('trackedCount')}, ${zero})`,
    pciPools
      ? `${e.name('pciPools')} = ${e.value(pciPools)}`
      : `${e.name('pciPools')} = if_not_exists(${e.name('pciPools')}, ${e.value({})})`,
  );
  return set;
}

// Device changes per transaction, leaving room for the node item within DynamoDB's 100 actions.
const DEVICE_CHUNK = 90;

/**
 * Registers a node or replaces its inventory. Usage is recomputed from what claims hold, so replacing
 * inventory never drops tracked usage, and the headroom follows the new limits (negative when the
 * inventory shrank below usage: claims are then refused until usage falls). PCI devices are reconciled
 * with what is tracked (rule P2): without device changes this is one UpdateItem after the read; with
 * them, transactions of up to 90 device changes, each conditioned on no claim having touched the node's
 * devices since the read. With `registered`, a node that is not registered is NodeNotFound and nothing is
 * written.
 */
export async function putNode(
  store: Store,
  nodeId: string,
  inventory: Inventory,
  reported: PciDeviceSpec[] = [],
  { registered = false, labels, numa }: { registered?: boolean; labels?: NodeLabels; numa?: HostCellInventory[] } = {},
): Promise<PutNodeResult> {
  // Whether the node was absent when this request first looked: if a write of this request may have
  // landed unseen (a lost response), a retry that finds the node registered it itself.
  let absent: boolean | undefined;
  // Whether a write of this request that surely committed created the node: an attempt started over
  // after it (the cells' write failed) reads the node as there and must not forget it.
  let createdByMe = false;
  return withRetry<PutNodeResult, PutIntent>(store, async (context) => {
    const { node: before, devices } = await readNodeAndDevices(store, nodeId);
    // `registered`: only a node that is already there gets the inventory (an audit's), never a new one.
    if (registered && before === undefined) throw new NodeNotFound(nodeId);
    absent ??= before === undefined;
    const intent = { absentAtFirstLook: absent };
    const created = (now: boolean) => (createdByMe ||= now) || registeredByMe(context.intended);
    const changes = reconcile(devices, reported);
    // A node registered anew over device items left by a delete that stopped halfway writes its pools whole.
    if (changes.length === 0 && (before !== undefined || devices.size === 0)) {
      const e = new Expression();
      const out = await sendOne(context, intent, () =>
        store.doc.send(
          new UpdateCommand({
            TableName: store.tableName,
            Key: nodeKey(nodeId),
            UpdateExpression: `SET ${inventoryClauses(e, nodeId, inventory, undefined, labels).join(', ')} ADD ${e.name('generation')} ${e.value(1)}`,
            // A node deleted since the read is not registered again.
            ...(registered ? { ConditionExpression: 'attribute_exists(pk)' } : {}),
            ReturnValues: 'ALL_NEW',
            ...e.params(),
          }),
        ),
      ).catch((error: unknown) => {
        throw registered && conditionFailed(error) ? new NodeNotFound(nodeId) : error;
      });
      const node = nodeStateOf(out.Attributes ?? {});
      // `numa` given: the cells follow, in a write of their own (rule NS2); the node's view then shows them.
      if (numa && hasOrGetsCells(out.Attributes, numa)) {
        created(node.generation === 1);
        return { created: created(false), node: await putTopology(store, context, nodeId, numa) };
      }
      // The generation starts at 1 with the write that creates the node.
      return { created: created(node.generation === 1), node };
    }
    let state = devices;
    let seen = Number(before?.pciVersion ?? 0);
    for (let i = 0; i < Math.max(changes.length, 1); i += DEVICE_CHUNK) {
      const chunk = changes.slice(i, i + DEVICE_CHUNK);
      state = applyChanges(state, chunk);
      const items = [
        {
          name: 'node',
          item: chunkNodeUpdate(store, nodeId, inventory, state, { first: i === 0, seen, registered, labels }),
        },
        ...deviceWrites(store, nodeId, chunk),
      ];
      await commitOrStartOver(store, context, { items, intent, devices: [{ nodeId, after: state }] });
      seen++;
    }
    created(before === undefined);
    if (numa && hasOrGetsCells(before, numa)) await putTopology(store, context, nodeId, numa);
    return { created: created(false), node: await getNode(store, nodeId) };
  });
}

type PutIntent = { absentAtFirstLook: boolean };

/** A node that never had cells and gets none skips the cells' read and write. */
const hasOrGetsCells = (node: Record<string, unknown> | undefined, numa: HostCellInventory[]) =>
  numa.length > 0 || (node !== undefined && cellIdsOf(node).length > 0);

/** Whether a write of this request that may have committed was the one that created the node. */
export const registeredByMe = (intended: readonly PutIntent[]) => intended.some((i) => i.absentAtFirstLook);

/**
 * The node's part of one chunk of device changes: the inventory with the first, the pools as they are
 * after the chunk, conditioned on no claim having touched the node's devices since the read.
 */
function chunkNodeUpdate(
  store: Store,
  nodeId: string,
  inventory: Inventory,
  state: Map<string, PciDevice>,
  { first, seen, registered, labels }: { first: boolean; seen: number; registered: boolean; labels?: NodeLabels },
) {
  const e = new Expression();
  const poolsNow = Object.fromEntries(pools(state));
  const set = first
    ? inventoryClauses(e, nodeId, inventory, poolsNow, labels)
    : [`${e.name('pciPools')} = ${e.value(poolsNow)}`];
  const version = e.name('pciVersion');
  const unchanged =
    seen === 0 ? `attribute_not_exists(${version}) OR ${version} = ${e.value(0)}` : `${version} = ${e.value(seen)}`;
  // A node deleted since the read fails the write; the retry's read then finds it gone.
  const condition = registered ? `attribute_exists(${e.name('pk')}) AND (${unchanged})` : unchanged;
  return {
    Update: {
      TableName: store.tableName,
      Key: nodeKey(nodeId),
      UpdateExpression: `SET ${set.join(', ')} ADD ${e.name('generation')} ${e.value(1)}, ${version} ${e.value(1)}`,
      ConditionExpression: condition,
      ...e.params(),
    },
  };
}

/** The node with its NUMA cells: one Query, which costs what reading the node item alone does when it has none. */
export async function getNode(store: Store, nodeId: string): Promise<NodeState> {
  const { node, cells } = await readNodeAndCells(store, nodeId);
  if (!node) throw new NodeNotFound(nodeId);
  return { ...nodeStateOf(node), ...(cells.length ? { numaCells: cells } : {}) };
}

export interface NodePage {
  nodes: NodeState[];
  /** The last nodeId of this page when more may follow: the next page starts after it. */
  after?: string;
}

/** Where a page of node ids lies in nodeId order: after `after` (exclusive), up to `last` (inclusive). */
export interface NodeRange {
  after?: string;
  last?: string;
}

export interface NodeIdPage {
  nodeIds: string[];
  /** The last nodeId of this page when more may follow: the next page starts after it. */
  after?: string;
}

/**
 * One page of node ids in nodeId order, at most `limit`, from the keys-only index (its sort order is the
 * nodeId's): one Query, no node item read, which is all an audit round's planning and its slices need.
 */
export async function listNodeIdPage(store: Store, limit: number, range: NodeRange = {}): Promise<NodeIdPage> {
  const { after, last } = range;
  const page = await withRetry(store, () =>
    store.doc.send(
      new QueryCommand({
        TableName: store.tableName,
        IndexName: NODE_INDEX.name,
        KeyConditionExpression: last === undefined ? '#p = :p' : '#p = :p AND #s <= :last',
        ExpressionAttributeNames: {
          '#p': NODE_INDEX.partition,
          ...(last === undefined ? {} : { '#s': NODE_INDEX.sort }),
        },
        ExpressionAttributeValues: { ':p': 'NODE', ...(last === undefined ? {} : { ':last': last }) },
        Limit: limit,
        // A page of an index starts after an item named by the index's key and the table's.
        ...(after === undefined
          ? {}
          : { ExclusiveStartKey: { ...nodeKey(after), [NODE_INDEX.partition]: 'NODE', [NODE_INDEX.sort]: after } }),
      }),
    ),
  );
  const nodeIds = (page.Items ?? []).map((item) => String(item[NODE_INDEX.sort]));
  const next = page.LastEvaluatedKey?.[NODE_INDEX.sort];
  return { nodeIds, ...(next === undefined ? {} : { after: String(next) }) };
}

/** One page of nodes in nodeId order, at most `limit`, after the node `after`: the ids, then the items in batches. */
export async function listNodePage(store: Store, limit: number, after?: string): Promise<NodePage> {
  const page = await listNodeIdPage(store, limit, { after });
  const nodes = await readNodes(
    store,
    page.nodeIds.map((nodeId) => nodeKey(nodeId)),
  );
  return { nodes, ...(page.after === undefined ? {} : { after: page.after }) };
}

/** Every node, in nodeId order, page after page. */
export async function listNodes(store: Store, pageSize = 1000): Promise<NodeState[]> {
  const nodes: NodeState[] = [];
  let after: string | undefined;
  do {
    const page = await listNodePage(store, pageSize, after);
    nodes.push(...page.nodes);
    after = page.after;
  } while (after !== undefined);
  return nodes;
}

/** Items by key in batches of 100 (a batch answers in any order). */
async function batchGet(store: Store, keys: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Record<string, unknown>[] = keys.slice(i, i + 100);
    while (pending.length) {
      const batch = pending;
      const out = await withRetry(store, () =>
        store.doc.send(new BatchGetCommand({ RequestItems: { [store.tableName]: { Keys: batch } } })),
      );
      items.push(...(out.Responses?.[store.tableName] ?? []));
      pending = out.UnprocessedKeys?.[store.tableName]?.Keys ?? [];
      if (pending.length) await new Promise((r) => setTimeout(r, 50));
    }
  }
  return items;
}

/** The nodes of `keys`, sorted by nodeId, each with its NUMA cells (named on the node item, read in batches too). */
async function readNodes(store: Store, keys: Record<string, unknown>[]): Promise<NodeState[]> {
  const items = await batchGet(store, keys);
  const cellKeys = items.flatMap((n) => cellIdsOf(n).map((id) => cellKey(String(n.nodeId), id)));
  const cells = (await batchGet(store, cellKeys)).sort((a, b) => (String(a.sk) < String(b.sk) ? -1 : 1));
  const nodes = items.map((n) => {
    const mine = cells.filter((c) => c.pk === n.pk).map(cellOf);
    return { ...nodeStateOf(n), ...(mine.length ? { numaCells: mine } : {}) };
  });
  return nodes.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

/**
 * Deletes a node that tracks nothing; the condition makes a claim racing the delete either land first
 * (409) or fail (404). Its device items go after it: none can be held, since nothing is tracked.
 */
export async function deleteNode(store: Store, nodeId: string): Promise<void> {
  try {
    await withRetry(store, () =>
      store.doc.send(
        new DeleteCommand({
          TableName: store.tableName,
          Key: nodeKey(nodeId),
          ConditionExpression: 'attribute_exists(pk) AND trackedCount = :zero',
          ExpressionAttributeValues: { ':zero': 0 },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
  } catch (error) {
    if (!conditionFailed(error)) throw error;
    const outcome = classifyDeleteNode((error as { Item?: Record<string, unknown> }).Item);
    if (outcome.kind === 'gone') throw new NodeNotFound(nodeId);
    throw new NodeInUse(nodeId, outcome.tracked);
  }
  const { devices } = await readNodeAndDevices(store, nodeId);
  const keys = [...devices.keys()].map((address) => deviceKey(nodeId, address));
  for (let i = 0; i < keys.length; i += 25) {
    let pending = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
    while (pending.length) {
      const batch = pending;
      const out = await withRetry(store, () =>
        store.doc.send(new BatchWriteCommand({ RequestItems: { [store.tableName]: batch } })),
      );
      pending = (out.UnprocessedItems?.[store.tableName] ?? []) as typeof pending;
      if (pending.length) await new Promise((r) => setTimeout(r, 50));
    }
  }
  store.devices.forget(nodeId);
}

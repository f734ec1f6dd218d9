import { TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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
import { COLUMNS, firstVersion, nodeKey, nodeStateOf } from './items';
import { cancellation, commitOrStartOver, deleteIfUnused, sendOne } from './commit';
import { deviceWrites, readNodeAndDevices } from './devices';
import { conditionFailed } from './outcomes';
import { Contended, withRetry, type RetryContext } from './retry';
import { readNodePartition } from './query';
import { NODE_INDEX } from './table';
import type { HostCellInventory } from '../domain/numa-types';
import { cellIdsOf, putTopology } from './numa-cells';
import { readNodeState, recordStats } from './node-read';

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
  // When the node was made: its generation starts over if it is deleted and registered again (rule G13).
  set.push(`${e.name('registeredAt')} = if_not_exists(${e.name('registeredAt')}, ${e.value(Date.now())})`);
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
    const { node: before, devices, leftovers } = await readNodeAndDevices(store, nodeId);
    // `registered`: only a node that is already there gets the inventory (an audit's), never a new one.
    if (registered && before === undefined) throw new NodeNotFound(nodeId);
    // A node registered anew over what a delete that stopped halfway left (its cells would show as this node's).
    if (leftovers) {
      await removeLeftovers(store, nodeId);
      store.devices.forget(nodeId);
      throw new Contended('a deleted node left items behind');
    }
    absent ??= before === undefined;
    const intent = { absentAtFirstLook: absent };
    const created = (now: boolean) => (createdByMe ||= now) || registeredByMe(context.intended);
    const changes = reconcile(devices, reported, firstVersion());
    if (changes.length === 0) {
      const { attributes, node, stats } = await writeInventory(store, context, nodeId, intent, {
        inventory,
        registered,
        labels,
      });
      // Noted before the cells' write, which may start the attempt over: the generation starts at 1 with the
      // write that creates the node.
      created(node.generation === 1);
      // `numa` given: the cells follow, in a write of their own (rule NS2); the node's view then shows them.
      if (numa && hasOrGetsCells(attributes, numa))
        return { created: created(false), node: { ...(await putTopology(store, context, nodeId, numa)), stats } };
      return { created: created(false), node };
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

interface PutOptions {
  inventory: Inventory;
  registered: boolean;
  labels?: NodeLabels;
}

/** A put without device changes: one UpdateItem of the node item, answering it as it is now, with its stats. */
async function writeInventory(
  store: Store,
  context: RetryContext<PutIntent>,
  nodeId: string,
  intent: PutIntent,
  { inventory, registered, labels }: PutOptions,
) {
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
  const attributes = out.Attributes ?? {};
  // The view shows the records' stats (rule S6): one Query more, none on a node that tracks nothing.
  const stats = Number(attributes.trackedCount ?? 0) ? await recordStats(store, nodeId) : {};
  return { attributes, node: nodeStateOf(attributes, stats), stats };
}

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

/** The node with its NUMA cells and its stats: one Query, which reads the node's instance records too (rule S6). */
export async function getNode(store: Store, nodeId: string): Promise<NodeState> {
  const node = await readNodeState(store, nodeId);
  if (!node) throw new NodeNotFound(nodeId);
  return node;
}

/**
 * Deletes a node that tracks nothing; the condition makes a claim racing the delete either land first
 * (409) or fail (404). What its partition still holds goes after it: devices, NUMA cells, its server groups'
 * host counts, waiting items left behind. None is held, since nothing is tracked; left, a node registered
 * again under the same id would show them as its own.
 */
export async function deleteNode(store: Store, nodeId: string): Promise<void> {
  const outcome = await deleteIfUnused(store, nodeKey(nodeId), 'trackedCount');
  if (outcome.kind === 'in-use') throw new NodeInUse(nodeId, Number(outcome.image.trackedCount));
  // No node, but perhaps what a delete that died after the node item left: the client's retry removes it.
  await removeLeftovers(store, nodeId);
  if (outcome.kind === 'gone') throw new NodeNotFound(nodeId);
  store.devices.forget(nodeId);
  store.numaCells.forget(nodeId);
}

/** A transaction holds 100 items: the check that the node is still deleted, and 99 deletes. */
const LEFTOVERS_PER_WRITE = 99;

/** The deleted node's other items, removed in transactions conditioned on the node still being deleted. */
async function removeLeftovers(store: Store, nodeId: string): Promise<void> {
  const items = await readNodePartition(store, nodeId);
  // Registered again meanwhile: what is there now is the new registration's.
  if (items.some((i) => i.sk === nodeKey(nodeId).sk)) return;
  const keys = items.map((i) => ({ pk: String(i.pk), sk: String(i.sk) }));
  const { tableName: TableName } = store;
  const check = {
    ConditionCheck: { TableName, Key: nodeKey(nodeId), ConditionExpression: 'attribute_not_exists(pk)' },
  };
  for (let i = 0; i < keys.length; i += LEFTOVERS_PER_WRITE) {
    const deletes = keys.slice(i, i + LEFTOVERS_PER_WRITE).map((Key) => ({ Delete: { TableName, Key } }));
    try {
      await withRetry(store, () => store.doc.send(new TransactWriteCommand({ TransactItems: [check, ...deletes] })));
    } catch (error) {
      if (cancellation(error)?.[0]?.Code === 'ConditionalCheckFailed') return;
      throw error;
    }
  }
}

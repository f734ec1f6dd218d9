// A node as its view shows it (rule S6): the node item with its NUMA cells, and the stats computed from its
// instance records, which the node item does not hold.
import { statsOf, type NodeState, type Stats } from '../domain';
import type { Store } from './client';
import { INSTANCE_PREFIX, instanceRecordOf, nodeKey, nodeStateOf } from './items';
import { CELL_PREFIX, cellOf, isCellItem } from './numa-cells';
import { queryAll } from './query';

const isRecord = (item: Record<string, unknown>) => String(item.sk).startsWith(INSTANCE_PREFIX);

/**
 * The node, its cells and its stats in ONE strongly consistent Query: the records (INSTANCE#), the move holds
 * (MOVE#), the node item (NODE) and the cells (NUMA#) sort next to each other; the devices (PCI#) and the
 * server-group items (GROUP#) lie outside. Undefined when the node is not registered.
 */
export async function readNodeState(store: Store, nodeId: string): Promise<NodeState | undefined> {
  const { pk, sk } = nodeKey(nodeId);
  const items = await queryAll(store, {
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
    ExpressionAttributeValues: { ':pk': pk, ':from': INSTANCE_PREFIX, ':to': `${CELL_PREFIX}~` },
    ConsistentRead: true,
  });
  const node = items.find((i) => i.sk === sk);
  if (!node) return undefined;
  const cells = items.filter(isCellItem).map(cellOf);
  store.numaCells.remember(nodeId, node, cells);
  const stats = statsOf(items.filter(isRecord).map(instanceRecordOf));
  return { ...nodeStateOf(node, stats), ...(cells.length ? { numaCells: cells } : {}) };
}

/** The stats of the node's instance records alone, for a write that answers with the node item it wrote. */
export async function recordStats(store: Store, nodeId: string): Promise<Stats> {
  const records = await queryAll(store, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': nodeKey(nodeId).pk, ':prefix': INSTANCE_PREFIX },
    ConsistentRead: true,
  });
  return statsOf(records.map(instanceRecordOf));
}

/** Several nodes read as readNodeState does, `width` Queries at a time, in the order of `nodeIds`; absent ones left out. */
export async function readNodeStates(store: Store, nodeIds: readonly string[], width = 8): Promise<NodeState[]> {
  const out: (NodeState | undefined)[] = new Array(nodeIds.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < nodeIds.length; i = next++) out[i] = await readNodeState(store, nodeIds[i] as string);
  };
  await Promise.all(Array.from({ length: Math.min(width, nodeIds.length) }, worker));
  return out.filter((n): n is NodeState => n !== undefined);
}

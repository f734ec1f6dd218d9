// Listing nodes in nodeId order (GET /nodes, the audit round, the fleet view): pages of ids from the keys-only
// node index, then each node with its NUMA cells and its stats.
import { BatchGetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { byNodeId, type NodeState } from '../domain';
import type { Store } from './client';
import { nodeKey, nodeStateOf } from './items';
import { cellIdsOf, cellKey, cellOf } from './numa-cells';
import { readNodeStates } from './node-read';
import { withRetry } from './retry';
import { NODE_INDEX } from './table';

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

/**
 * One page of nodes in nodeId order, at most `limit`, after the node `after`: the ids, then one Query per node
 * (its item, cells and instance records, for the stats, rule S6), a few at a time; without `stats`, the node
 * items and their cells in batches, with no stats.
 */
export async function listNodePage(store: Store, limit: number, after?: string, stats = true): Promise<NodePage> {
  const page = await listNodeIdPage(store, limit, { after });
  const nodes = stats
    ? await readNodeStates(store, page.nodeIds)
    : await readNodes(
        store,
        page.nodeIds.map((nodeId) => nodeKey(nodeId)),
      );
  return { nodes, ...(page.after === undefined ? {} : { after: page.after }) };
}

/** Every node, in nodeId order, page after page; without stats unless asked (the fleet view places on usage). */
export async function listNodes(store: Store, pageSize = 1000, stats = false): Promise<NodeState[]> {
  const nodes: NodeState[] = [];
  let after: string | undefined;
  do {
    const page = await listNodePage(store, pageSize, after, stats);
    nodes.push(...page.nodes);
    after = page.after;
  } while (after !== undefined);
  return nodes;
}

/** Items by key in batches of 100 (a batch answers in any order). */
export async function batchGet(store: Store, keys: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
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

/** The nodes of `keys` without their stats, sorted by nodeId, each with its NUMA cells (named on the node item, read in batches too). */
async function readNodes(store: Store, keys: Record<string, unknown>[]): Promise<NodeState[]> {
  const items = await batchGet(store, keys);
  const cellKeys = items.flatMap((n) => cellIdsOf(n).map((id) => cellKey(String(n.nodeId), id)));
  const cells = (await batchGet(store, cellKeys)).sort((a, b) => (String(a.sk) < String(b.sk) ? -1 : 1));
  const nodes = items.map((n) => {
    const mine = cells.filter((c) => c.pk === n.pk).map(cellOf);
    return { ...nodeStateOf(n), ...(mine.length ? { numaCells: mine } : {}) };
  });
  return nodes.sort(byNodeId);
}

// NUMA cells in the ledger (docs/store.md, rules NS1-NS4): one item per host cell in the node's partition,
// next to the node item, holding the cell's inventory, its usage and what the claim's conditions need.
import type { NodeState, NumaCellCondition, NumaTaken } from '../domain';
import type { HostCell, HostCellInventory } from '../domain/numa-types';
import { NodeNotFound } from '../errors';
import type { Store } from './client';
import { commitOrStartOver, type NamedItem, type TransactItem } from './commit';
import { Expression } from './expression';
import { firstVersion, nodeKey, nodeStateOf } from './items';
import { plain } from './plain';
import { queryAll } from './query';
import type { RetryContext } from './retry';

export const CELL_PREFIX = 'NUMA#';
// Padded, so a node's cells sort by id; the node item ('NODE') sorts just before them.
export const cellKey = (nodeId: string, cellId: number) => ({
  pk: nodeKey(nodeId).pk,
  sk: `${CELL_PREFIX}${String(cellId).padStart(4, '0')}`,
});
/** One attribute per page size, so a claim's update and condition name it without a map that may be missing. */
export const pagesAttribute = (sizeKb: number) => `pagesUsed${sizeKb}`;

/** A cell as the ledger holds it. */
export interface CellState extends HostCell {
  /** False for a cell the last inventory no longer reports but that still holds usage (rule NS2). */
  reported: boolean;
  /** Bumped by every inventory write: a claim fitted on the inventory it read is conditioned on it. */
  inventoryVersion: number;
  /** Claims and holds whose usage the cell carries: a cell is deleted only at 0. */
  holders: number;
}

/** One cell's change by a claim (sign 1) or a release (sign -1), figures signed; stored with the claim. */
export type CellChange = NumaTaken;

/** The release of what `change` took. */
export const undo = (c: CellChange): CellChange => ({
  ...c,
  sign: -c.sign as 1 | -1,
  cpuUsage: -c.cpuUsage,
  memoryUsageMb: -c.memoryUsageMb,
  pages: c.pages && { sizeKb: c.pages.sizeKb, count: -c.pages.count },
});

const numbers = (v: unknown): number[] => (v instanceof Set ? [...(v as Set<number>)] : ((v as number[]) ?? []));

export function cellOf(raw: Record<string, unknown>): CellState {
  const item = plain(raw);
  const mempages = (item.mempages as HostCellInventory['mempages'] | undefined) ?? [];
  const pagesUsed: Record<string, number> = {};
  for (const [k, v] of Object.entries(item)) {
    if (k.startsWith('pagesUsed')) pagesUsed[k.slice('pagesUsed'.length)] = Number(v);
  }
  for (const p of mempages) pagesUsed[String(p.sizeKb)] ??= 0;
  return {
    id: Number(item.cellId),
    cpuset: numbers(item.cpuset),
    pcpuset: numbers(item.pcpuset),
    memoryMb: Number(item.memoryMb ?? 0),
    siblings: ((item.siblings as number[][] | undefined) ?? []).map(numbers),
    mempages: mempages.map((p) => ({ sizeKb: Number(p.sizeKb), total: Number(p.total), reserved: Number(p.reserved) })),
    cpuUsage: Number(item.cpuUsage ?? 0),
    memoryUsageMb: Number(item.memoryUsageMb ?? 0),
    pinnedCpus: numbers(item.pinned).sort((a, b) => a - b),
    pagesUsed,
    reported: item.reported !== false,
    inventoryVersion: Number(item.inventoryVersion ?? 0),
    holders: Number(item.holders ?? 0),
  };
}

export const isCellItem = (item: Record<string, unknown>) => String(item.sk).startsWith(CELL_PREFIX);

/** The node item and its cells in ONE strongly consistent Query (they sort next to each other), as stored. */
export function nodeAndCellItems(store: Store, nodeId: string): Promise<Record<string, unknown>[]> {
  return queryAll(store, {
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
    ExpressionAttributeValues: { ':pk': nodeKey(nodeId).pk, ':from': nodeKey(nodeId).sk, ':to': `${CELL_PREFIX}~` },
    ConsistentRead: true,
  });
}

export async function readNodeAndCells(
  store: Store,
  nodeId: string,
): Promise<{ node?: Record<string, unknown>; cells: CellState[] }> {
  const items = await nodeAndCellItems(store, nodeId);
  const read = { node: items.find((i) => i.sk === nodeKey(nodeId).sk), cells: items.filter(isCellItem).map(cellOf) };
  store.numaCells.remember(nodeId, read.node, read.cells);
  return read;
}

/** The host topology a fit sees: the reported cells; none when the node reports no topology (rule H5). */
export const hostCells = (cells: CellState[]): CellState[] => cells.filter((c) => c.reported);

/** Whether anything holds usage on the cell (a claim, a hold). */
const inUse = (c: CellState) => c.holders > 0;

/**
 * The writes that replace the node's topology with `reported`: every reported cell gets its inventory
 * (usage and pins kept); a cell no longer reported is deleted when it carries nothing, else kept as
 * unreported with an empty inventory, its pins showing until released (rule NS2). Each write is
 * conditioned on the cell as read, so a claim landing in between makes the inventory start over.
 */
export function topologyWrites(
  store: Store,
  nodeId: string,
  before: CellState[],
  reported: HostCellInventory[],
): NamedItem[] {
  const ids = new Set(reported.map((c) => c.id));
  const items = reported.map((c) => ({
    name: `cell:${c.id}`,
    item: inventoryWrite(
      store,
      nodeId,
      c,
      true,
      before.find((b) => b.id === c.id),
    ),
  }));
  for (const b of before.filter((x) => !ids.has(x.id))) {
    const empty = { id: b.id, cpuset: [], pcpuset: [], memoryMb: 0, siblings: [], mempages: [] };
    items.push({
      name: `cell:${b.id}`,
      item: inUse(b)
        ? inventoryWrite(store, nodeId, empty, false, b)
        : {
            Delete: {
              TableName: store.tableName,
              Key: cellKey(nodeId, b.id),
              ConditionExpression: 'inventoryVersion = :v AND holders = :zero',
              ExpressionAttributeValues: { ':v': b.inventoryVersion, ':zero': 0 },
            },
          },
    });
  }
  return items;
}

// Cell writes per transaction, with room for the node's.
const CELL_CHUNK = 90;

/**
 * Replaces the node's topology (rule NS2) after its inventory was written: the cells, and on the node
 * item the ids of its cells (so a page of nodes reads them by key). Answers the node with
 * its cells as they are now.
 */
export async function putTopology<I>(
  store: Store,
  context: RetryContext<I>,
  nodeId: string,
  reported: HostCellInventory[],
): Promise<NodeState> {
  const { node, cells } = await readNodeAndCells(store, nodeId);
  if (!node) throw new NodeNotFound(nodeId);
  const writes = topologyWrites(store, nodeId, cells, reported);
  for (let i = 0; i < writes.length; i += CELL_CHUNK) {
    const items = writes.slice(i, i + CELL_CHUNK);
    const kept = writes.filter((w) => !('Delete' in w.item)).map((w) => Number(w.name.slice('cell:'.length)));
    if (i === 0)
      items.push({
        name: 'node',
        item: cellIdsWrite(
          store,
          nodeId,
          kept.sort((a, b) => a - b),
        ),
      });
    await commitOrStartOver(store, context, { items });
  }
  const after = await readNodeAndCells(store, nodeId);
  if (!after.node) throw new NodeNotFound(nodeId);
  return { ...nodeStateOf(after.node), ...(after.cells.length ? { numaCells: after.cells } : {}) };
}

const cellIdsWrite = (store: Store, nodeId: string, ids: number[]): TransactItem => ({
  Update: {
    TableName: store.tableName,
    Key: nodeKey(nodeId),
    UpdateExpression: 'SET numaCellIds = :ids',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':ids': ids },
  },
});

/** The ids of the cells a node item names (a page of nodes reads them by key). */
export const cellIdsOf = (node: Record<string, unknown>): number[] =>
  ((plain(node).numaCellIds as number[] | undefined) ?? []).map(Number);

function inventoryWrite(
  store: Store,
  nodeId: string,
  cell: HostCellInventory,
  reported: boolean,
  before: CellState | undefined,
): TransactItem {
  const e = new Expression();
  const zero = e.value(0);
  const fields = {
    type: 'numa-cell',
    nodeId,
    cellId: cell.id,
    cpuset: cell.cpuset,
    pcpuset: cell.pcpuset,
    memoryMb: cell.memoryMb,
    siblings: cell.siblings,
    mempages: cell.mempages,
    reported,
  };
  const set = Object.entries(fields).map(([k, v]) => `${e.name(k)} = ${e.value(v)}`);
  for (const usage of ['cpuUsage', 'memoryUsageMb', 'holders', ...cell.mempages.map((p) => pagesAttribute(p.sizeKb))])
    set.push(`${e.name(usage)} = if_not_exists(${e.name(usage)}, ${zero})`);
  const version = e.name('inventoryVersion');
  return {
    Update: {
      TableName: store.tableName,
      Key: cellKey(nodeId, cell.id),
      // A new cell starts from the clock (rule NS8): a copy of the cell it replaces fails every condition.
      UpdateExpression: before
        ? `SET ${set.join(', ')} ADD ${version} ${e.value(1)}`
        : `SET ${set.join(', ')}, ${version} = ${e.value(firstVersion())}`,
      ConditionExpression: before
        ? `${version} = ${e.value(before.inventoryVersion)}`
        : `attribute_not_exists(${e.name('pk')})`,
      ...e.params(),
    },
  };
}

/** The conditions a claim's fit was decided on, for one cell (rule NS3), and the inventory it read. */
export type CellGuard = NumaCellCondition & { inventoryVersion: number };

/**
 * One cell's half of a claim (sign 1) or a release (sign -1). A claim is conditioned on every pin being
 * free (`NOT contains`) and on the guard's thresholds and the inventory version it read; a release only
 * on the cell being there: the record's own condition in the same transaction makes it happen once.
 */
export function cellWrite(store: Store, nodeId: string, c: CellChange, guard?: CellGuard): NamedItem {
  const e = new Expression();
  const set = [
    `${e.name('cpuUsage')} = ${e.name('cpuUsage')} + ${e.value(c.cpuUsage)}`,
    `${e.name('memoryUsageMb')} = ${e.name('memoryUsageMb')} + ${e.value(c.memoryUsageMb)}`,
  ];
  const pages = c.pages ? e.name(pagesAttribute(c.pages.sizeKb)) : undefined;
  if (c.pages && pages) set.push(`${pages} = if_not_exists(${pages}, ${e.value(0)}) + ${e.value(c.pages.count)}`);
  // Named only where used: DynamoDB refuses names an expression does not use.
  const pinned = () => e.name('pinned');
  const pins = c.pin.length ? e.value(new Set(c.pin)) : undefined;
  const add = [`${e.name('holders')} ${e.value(c.sign)}`];
  if (pins && c.sign > 0) add.push(`${pinned()} ${pins}`);
  const conditions = [`attribute_exists(${e.name('pk')})`];
  if (guard) {
    conditions.push(`${e.name('inventoryVersion')} = ${e.value(guard.inventoryVersion)}`);
    for (const cpu of guard.free) conditions.push(`NOT contains(${pinned()}, ${e.value(cpu)})`);
    const atMost = (attribute: string, v: number | null) =>
      v !== null && conditions.push(`${e.name(attribute)} <= ${e.value(v)}`);
    atMost('memoryUsageMb', guard.memoryUsageAtMost);
    atMost('cpuUsage', guard.cpuUsageAtMost);
    const p = guard.pagesUsedAtMost;
    if (p) atMost(pagesAttribute(p.sizeKb), p.value);
  }
  return {
    name: `cell:${c.cellId}`,
    item: store.numaCells.track(c, {
      Update: {
        TableName: store.tableName,
        Key: cellKey(nodeId, c.cellId),
        UpdateExpression:
          `SET ${set.join(', ')} ADD ${add.join(', ')}` + (pins && c.sign < 0 ? ` DELETE ${pinned()} ${pins}` : ''),
        ConditionExpression: conditions.join(' AND '),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...e.params(),
      },
    }),
  };
}

/** A release's cell writes: exactly what the claim's stored changes took, given back. */
export const cellReleases = (store: Store, nodeId: string, taken: readonly CellChange[] | null | undefined) =>
  (taken ?? []).map((c) => cellWrite(store, nodeId, undo(c)));

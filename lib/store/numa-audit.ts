// The audit of a node's NUMA cells (rule NS6, after Nova's A1): every cell rebuilt from zero with what the
// node's records and holds took from it, written only where it drifted, in the same transaction as the
// node's repair and conditioned like it on no claim having landed since the read. Pins that overlap or lie
// outside the inventory are reported with the instances involved; they never make the audit fail.
import { applyNumaUsage, pinProblems, type NumaTaken } from '../domain';
import type { Store } from './client';
import type { NamedItem } from './commit';
import { Expression } from './expression';
import { cellKey, cellOf, isCellItem, pagesAttribute, type CellState } from './numa-cells';

/** One cell whose stored figures differ from the recount: before and after. */
export interface CellDrift {
  cellId: number;
  before: { cpuUsage: number; memoryUsageMb: number; pinnedCpus: number[]; pagesUsed: Record<string, number> };
  after: { cpuUsage: number; memoryUsageMb: number; pinnedCpus: number[]; pagesUsed: Record<string, number> };
}

export interface CellRecount {
  drift: CellDrift[];
  /** Pins two holders share, or that the cell's inventory does not have, naming the holders. */
  problems: string[];
  /** The cells as they must be, with their holder counts, for the ones that drifted. */
  repairs: { cell: CellState; holders: number }[];
}

interface Holder {
  /** The instance, or the move's hold (`<instance> (move <id>)`). */
  who: string;
  taken?: NumaTaken[] | null;
}

const figures = (c: CellState) => ({
  cpuUsage: c.cpuUsage,
  memoryUsageMb: c.memoryUsageMb,
  pinnedCpus: c.pinnedCpus,
  pagesUsed: Object.fromEntries(Object.entries(c.pagesUsed).filter(([, n]) => n !== 0)),
});

/** The recount of every cell among `items` (a node's partition) from what `holders` took. */
export function recountCells(items: Record<string, unknown>[], holders: Holder[]): CellRecount {
  const out: CellRecount = { drift: [], problems: [], repairs: [] };
  for (const stored of items.filter(isCellItem).map(cellOf)) {
    const zero = Object.fromEntries(Object.keys(stored.pagesUsed).map((k) => [k, 0]));
    let cell: CellState = { ...stored, cpuUsage: 0, memoryUsageMb: 0, pinnedCpus: [], pagesUsed: zero };
    const owner = new Map<number, string>();
    let count = 0;
    for (const h of holders) {
      for (const change of (h.taken ?? []).filter((t) => t.cellId === stored.id)) {
        count++;
        const { invalid, unknown } = pinProblems(cell, change);
        for (const cpu of invalid)
          out.problems.push(`cell ${cell.id}: CPU ${cpu} pinned by ${owner.get(cpu)} and ${h.who}`);
        if (unknown.length)
          out.problems.push(
            `cell ${cell.id}: ${h.who} pins CPUs ${unknown.join(', ')}, which the cell does not report`,
          );
        for (const cpu of change.pin) owner.set(cpu, owner.get(cpu) ?? h.who);
        cell = { ...cell, ...applyNumaUsage({ cells: [cell] }, [change]).cells[0] };
      }
    }
    const [before, after] = [figures(stored), figures(cell)];
    if (JSON.stringify(before) !== JSON.stringify(after) || stored.holders !== count) {
      out.drift.push({ cellId: stored.id, before, after });
      out.repairs.push({ cell, holders: count });
    }
  }
  return out;
}

/** A drifted cell written as recounted, conditioned on the inventory read (the node's generation guards the rest). */
export function cellRepairs(store: Store, nodeId: string, recount: CellRecount): NamedItem[] {
  return recount.repairs.map(({ cell, holders }) => {
    const e = new Expression();
    const set = [
      `${e.name('cpuUsage')} = ${e.value(cell.cpuUsage)}`,
      `${e.name('memoryUsageMb')} = ${e.value(cell.memoryUsageMb)}`,
      `${e.name('holders')} = ${e.value(holders)}`,
      ...Object.entries(cell.pagesUsed).map(([size, n]) => `${e.name(pagesAttribute(Number(size)))} = ${e.value(n)}`),
    ];
    // DynamoDB has no empty sets: no pins is no attribute.
    if (cell.pinnedCpus.length) set.push(`${e.name('pinned')} = ${e.value(new Set(cell.pinnedCpus))}`);
    const remove = cell.pinnedCpus.length ? '' : ` REMOVE ${e.name('pinned')}`;
    return {
      name: `cell:${cell.id}`,
      item: {
        Update: {
          TableName: store.tableName,
          Key: cellKey(nodeId, cell.id),
          UpdateExpression: `SET ${set.join(', ')}${remove}`,
          ConditionExpression: `${e.name('inventoryVersion')} = ${e.value(cell.inventoryVersion)}`,
          ...e.params(),
        },
      },
    };
  });
}

// The per-store copy of each node's NUMA cells (rule NS7): a hint a claim fits on instead of reading.
// It may be wrong: a claim's cell updates are conditioned on what the fit was decided on, so a stale copy
// only fails the write, whose cancellation brings the cells as they are now.
import { applyNumaUsage } from '../domain';
import type { NamedItem, Reasons, TransactItem } from './commit';
import { nodeKey } from './items';
import { cellOf, CELL_PREFIX, type CellChange, type CellState } from './numa-cells';

// As for devices: past this a copy would more likely cost a failed write than save a read.
export const CELLS_FRESH_MS = 2_000;

export interface CellCopy {
  /** The node item as read with the cells: the claim takes the allocation ratios from it. */
  node: Record<string, unknown>;
  cells: CellState[];
}

interface Kept {
  at: number;
  node: Record<string, unknown>;
  cells: Map<number, CellState>;
}

/** The partition and cell id a transaction item writes, if it writes a cell. */
function cellTarget(item: TransactItem): { pk: string; cellId: number } | undefined {
  const key = item.Update?.Key ?? item.Delete?.Key ?? item.ConditionCheck?.Key ?? item.Put?.Item;
  const sk = String(key?.sk ?? '');
  return sk.startsWith(CELL_PREFIX) ? { pk: String(key?.pk), cellId: Number(sk.slice(CELL_PREFIX.length)) } : undefined;
}

export class NumaCellCache {
  private readonly copies = new Map<string, Kept>();
  /** The usage change each cell update built by cellWrite makes; any other write of a cell drops the copy. */
  private readonly changes = new WeakMap<TransactItem, CellChange>();
  /** The cell takes of this container's claims between their fit and their write's answer, by node partition. */
  private readonly takes = new Map<string, Set<CellChange>>();

  constructor(private readonly freshMs = CELLS_FRESH_MS) {}

  /**
   * The node and its cells as a read found them just now. A node without a reported cell is not kept: a
   * claim on it writes no cell, so no condition would catch a topology reported since.
   */
  remember(nodeId: string, node: Record<string, unknown> | undefined, cells: CellState[]): void {
    if (!node || !cells.some((c) => c.reported)) return this.forget(nodeId);
    this.copies.set(nodeKey(nodeId).pk, { at: Date.now(), node, cells: new Map(cells.map((c) => [c.id, c])) });
  }

  fresh(nodeId: string): CellCopy | undefined {
    const kept = this.copies.get(nodeKey(nodeId).pk);
    if (!kept || Date.now() - kept.at >= this.freshMs) return undefined;
    return { node: kept.node, cells: [...kept.cells.values()] };
  }

  forget(nodeId: string): void {
    this.copies.delete(nodeKey(nodeId).pk);
  }

  /** Notes that `item` makes exactly `change` to its cell, so that once it commits the copy follows. */
  track(change: CellChange, item: TransactItem): TransactItem {
    this.changes.set(item, change);
    return item;
  }

  /**
   * Notes a claim's cell takes from the moment its fit chose them until its write is answered (the returned call
   * ends the note). Claims of one container fitting at once (their steps interleave at every await) then choose
   * around each other. Gives back are not noted: their cores are not free until they land.
   */
  hold(nodeId: string, takes: readonly CellChange[]): () => void {
    const pk = nodeKey(nodeId).pk;
    const mine = this.takes.get(pk) ?? new Set<CellChange>();
    this.takes.set(pk, mine);
    const noted = takes.filter((c) => c.sign > 0);
    for (const c of noted) mine.add(c);
    return () => {
      for (const c of noted) mine.delete(c);
      if (!mine.size) this.takes.delete(pk);
    };
  }

  /**
   * The cells with the takes this container holds (see hold) taken too, but for those whose pins the cells
   * already show (landed, answer not back yet); undefined when there is none (rule NU10). A claim fits around
   * them first, as Nova's next claim would once they landed. Only a hint: a take without pins may already be in
   * the cells, its usage then counted twice, so a fit these cells refuse is tried again on `cells` alone.
   */
  aside(nodeId: string, cells: readonly CellState[]): CellState[] | undefined {
    const mine = this.takes.get(nodeKey(nodeId).pk);
    if (!mine) return undefined;
    const pinned = new Map(cells.map((c) => [c.id, new Set(c.pinnedCpus)]));
    const shown = (c: CellChange) => c.pin.length > 0 && c.pin.every((cpu) => pinned.get(c.cellId)?.has(cpu));
    const unseen = [...mine].filter((c) => !shown(c));
    return unseen.length ? (applyNumaUsage({ cells: [...cells] }, unseen).cells as CellState[]) : undefined;
  }

  /**
   * After a write committed: each tracked cell update is applied to the copy (keeping its age, so local
   * writes never make it look fresher than its last read); any other write of cells (an inventory, an
   * audit's repair) drops the node's copy.
   */
  committed(items: readonly NamedItem[]): void {
    for (const { item } of items) {
      const target = cellTarget(item);
      if (!target) continue;
      const kept = this.copies.get(target.pk);
      const cell = kept?.cells.get(target.cellId);
      const change = this.changes.get(item);
      if (!kept) continue;
      if (!change || !cell) {
        this.copies.delete(target.pk);
        continue;
      }
      const [after] = applyNumaUsage({ cells: [cell] }, [change]).cells;
      kept.cells.set(cell.id, { ...cell, ...after, holders: cell.holders + change.sign });
    }
  }

  /**
   * After a write failed. A cell whose condition failed came back as it is now (ALL_OLD) and replaces
   * the copy's, unless its inventory changed: then the node's cells and ratios may all be different, and
   * the copy goes. A cell gone, or a failure without reasons (which may even have committed), drops it too.
   */
  failed(items: readonly NamedItem[], reasons: Reasons | undefined): void {
    for (const { name, item } of items) {
      const target = cellTarget(item);
      const kept = target && this.copies.get(target.pk);
      if (!target || !kept) continue;
      const reason = reasons?.get(name);
      if (reason && reason.Code !== 'ConditionalCheckFailed') continue;
      const now = reason?.Item && cellOf(reason.Item);
      if (now && kept.cells.get(now.id)?.inventoryVersion === now.inventoryVersion) kept.cells.set(now.id, now);
      else this.copies.delete(target.pk);
    }
  }
}

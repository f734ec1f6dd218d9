// A NUMA claim's cells (docs/store.md, rules S22-S24): the fit on the cells as read, the cell writes that
// go in the claim's one transaction, conditioned on exactly what the fit was decided on, and what a lost
// race teaches the next attempt (the cells' images come back with the cancellation, so no read is needed).
import {
  fitNumaTopology,
  numaRequestFrom,
  numaUsage,
  numaReasons,
  onGrid,
  refusalMessage,
  refusalReasons,
  type Sized,
  type FittedTopology,
  type InstanceRecord,
  type Migration,
  type NumaAsk,
  type NumaLimits,
  type NumaRequest,
  type NumaTaken,
} from '../domain';
import { InsufficientResources, NodeNotFound } from '../errors';
import type { Store } from './client';
import type { NamedItem, Reasons } from './commit';
import { inventoryOf, usedOf } from './items';
import { cellOf, cellWrite, hostCells, readNodeAndCells, type CellGuard, type CellState } from './numa-cells';

/** The guest's NUMA request (rules R1-R8), or null when it asks for none; a ValidationError for R9. */
export function numaRequestOf(ask: NumaAsk): NumaRequest | null {
  return numaRequestFrom({
    vcpus: ask.flavor.vcpus,
    memoryMb: ask.flavor.memoryMb,
    extraSpecs: ask.flavor.extraSpecs,
    imageProperties: ask.image?.properties,
    topology: ask.numaTopology,
  });
}

/** The ratios shared cells are tested with: the request's, none (null), or else the node's own (rule D1). */
export function numaLimitsOf(ask: NumaAsk, node: Record<string, unknown>): NumaLimits | null {
  const asked = ask.limits.numaTopology;
  if (asked !== undefined) return asked;
  return { cpuAllocationRatio: Number(node.cpuAllocationRatio), ramAllocationRatio: Number(node.ramAllocationRatio) };
}

/** One request's view of a node's cells: read once, then corrected from what each lost race returns. */
export class CellView {
  node?: Record<string, unknown>;
  private cells?: Map<number, CellState>;
  /** True while the view is the read itself, false once a cancellation corrected part of it. */
  fresh = false;

  async read(store: Store, nodeId: string): Promise<{ node?: Record<string, unknown>; cells: CellState[] }> {
    if (!this.cells) {
      const read = await readNodeAndCells(store, nodeId);
      this.node = read.node;
      this.cells = new Map(read.cells.map((c) => [c.id, c]));
      this.fresh = true;
    }
    return { node: this.node, cells: [...this.cells.values()] };
  }

  /** The cells whose conditions failed come back as they are now; any other failure reads everything again. */
  learn(reasons: Reasons): void {
    for (const [name, r] of reasons) {
      if (!name.startsWith('cell:') || r.Code !== 'ConditionalCheckFailed') continue;
      if (r.Item && this.cells) {
        const cell = cellOf(r.Item);
        this.cells.set(cell.id, cell);
        this.fresh = false;
      } else this.forget();
    }
  }

  forget(): void {
    this.cells = undefined;
    this.node = undefined;
  }
}

export type NumaFit =
  /** The node reports no topology: the request is dropped (rule H5). */
  | { kind: 'no-topology' }
  | { kind: 'fitted'; topology: FittedTopology; taken: NumaTaken[]; guards: Map<number, CellGuard> }
  | { kind: 'refused' };

/** Fits the request on the cells as read (rules F1-F7, the domain's) and derives the claim's cell conditions. */
export function fitOnCells(cells: CellState[], request: NumaRequest, limits: NumaLimits | null): NumaFit {
  const host = hostCells(cells);
  if (host.length === 0) return { kind: 'no-topology' };
  const topology = fitNumaTopology({ cells: host }, request, { limits });
  if (!topology) return { kind: 'refused' };
  const taken = numaUsage(host, topology, 1);
  const guards = new Map<number, CellGuard>();
  for (const g of topology.cells) {
    const cell = host.find((c) => c.id === g.id);
    const change = taken.find((t) => t.cellId === g.id);
    if (cell && change) guards.set(g.id, guardOf(cell, g, change, limits));
  }
  return { kind: 'fitted', topology, taken, guards };
}

/**
 * What the fit decided on for one cell, as thresholds on its stored usage (rule S23): conditions can't do
 * arithmetic, so the threshold is computed here from the inventory read, and the inventory version is a
 * condition too, so an inventory change between the read and the write fails the claim instead.
 */
function guardOf(
  cell: CellState,
  g: FittedTopology['cells'][number],
  change: NumaTaken,
  limits: NumaLimits | null,
): CellGuard {
  const guard: CellGuard = { inventoryVersion: cell.inventoryVersion };
  const memory: number[] = [];
  // Pinned vCPUs never overcommit memory (rule F4d).
  if (g.pcpuset.length) memory.push(cell.memoryMb - change.memoryUsageMb);
  // Shared vCPUs under limits: the ratio headroom (rule F4e); equality passes.
  if (g.cpuset.length && limits) {
    guard.cpuUsedAtMost = onGrid(cell.cpuset.length * limits.cpuAllocationRatio) - change.cpuUsage;
    memory.push(onGrid(cell.memoryMb * limits.ramAllocationRatio) - change.memoryUsageMb);
  }
  if (memory.length) guard.memoryUsedAtMost = Math.min(...memory);
  // An asked page size is taken from free pages (rule F4a); without one, only the inventory counts.
  const pool = change.pages && cell.mempages.find((p) => p.sizeKb === change.pages?.sizeKb);
  if (g.pagesizeKb !== null && pool && change.pages) {
    guard.pagesUsedAtMost = pool.total - pool.reserved - change.pages.count;
  }
  return guard;
}

/** The refusal of a request the cells cannot take: the scalar reasons from the node as read, then NUMA's (rule C2). */
export function numaRefusalError(node: Record<string, unknown>, sized: Sized): InsufficientResources {
  const why = [
    ...refusalReasons(inventoryOf(node), usedOf(node), sized),
    ...numaReasons({ pci: sized.pciRequests.length > 0 }),
  ];
  return new InsufficientResources(refusalMessage(why), why);
}

/** A move's fit on its destination, on a fresh read (a lost race reads again: the move claim starts over). */
export async function fitFresh(
  store: Store,
  nodeId: string,
  numa: NumaRequest,
  ask: NumaAsk & Sized,
): Promise<Exclude<NumaFit, { kind: 'refused' }>> {
  const { node, cells } = await readNodeAndCells(store, nodeId);
  if (!node) throw new NodeNotFound(nodeId);
  const fit = fitOnCells(cells, numa, numaLimitsOf(ask, node));
  if (fit.kind === 'refused') throw numaRefusalError(node, ask);
  return fit;
}

/** The NUMA side a fit makes, for the migration record (none when the request asked for none). */
export const sideOf = (fit: NumaFit | undefined): NumaSide | undefined =>
  fit === undefined || fit.kind === 'refused'
    ? undefined
    : fit.kind === 'fitted'
      ? { topology: fit.topology, taken: fit.taken }
      : { topology: null, taken: [] };

/** The claim's cell writes, each conditioned on its guard. */
export function claimCellWrites(store: Store, nodeId: string, fit: Extract<NumaFit, { kind: 'fitted' }>): NamedItem[] {
  return fit.taken.map((t) => cellWrite(store, nodeId, t, fit.guards.get(t.cellId)));
}

/** What one side of a move holds of NUMA, kept on the migration record next to its sizes (rule S25). */
export interface NumaSide {
  topology: FittedTopology | null;
  taken: NumaTaken[];
}
export type NumaMigration = Migration & { numa?: { old?: NumaSide; new?: NumaSide } };

/** The NUMA side `size` of a move holds, if it holds any. */
export const numaSide = (m: Migration, size: 'old' | 'new'): NumaSide | undefined => (m as NumaMigration).numa?.[size];

/** A record's NUMA fields as one side of a move holds them (none: the record has none either). */
export function numaRecordFields(side: NumaSide | undefined): Pick<InstanceRecord, 'numaTopology' | 'numaTaken'> {
  return side ? { numaTopology: side.topology, numaTaken: side.taken } : {};
}

/** The record's NUMA fields as a move's old side (absent when it claimed without a NUMA request). */
export function oldSide(record: InstanceRecord): NumaSide | undefined {
  return record.numaTopology === undefined
    ? undefined
    : { topology: record.numaTopology, taken: record.numaTaken ?? [] };
}

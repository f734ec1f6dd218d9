// A NUMA claim's cells (docs/store.md, rules NS3, NS4): the fit on the cells as read, the cell writes that
// go in the claim's one transaction, conditioned on exactly what the fit was decided on, and what a lost
// race teaches the next attempt (the cells' images come back with the cancellation, so no read is needed).
import {
  fitConditions,
  fitNumaTopology,
  numaRequestFrom,
  numaUsage,
  pciNumaPolicyFrom,
  numaReasons,
  refusalMessage,
  refusalReasons,
  type Sized,
  byAddress,
  choose,
  type FitOptions,
  type FittedTopology,
  type NumaPciRequest,
  type PciDevice,
  type InstanceRecord,
  type Migration,
  type NumaAsk,
  type NumaLimits,
  type NumaRequest,
  type NumaTaken,
} from '../domain';
import { InsufficientResources, NodeNotFound, ValidationError } from '../errors';
import type { Store } from './client';
import type { NamedItem, Reasons } from './commit';
import { DEVICE_PREFIX, deviceOf, inventoryOf, nodeKey, usedOf } from './items';
import {
  cellOf,
  cellWrite,
  hostCells,
  isCellItem,
  nodeAndCellItems,
  readNodeAndCells,
  type CellChange,
  type CellGuard,
  type CellState,
} from './numa-cells';
import { readNodePartition } from './query';

/**
 * The guest's NUMA request (rules R1-R8), or null when it asks for none. Nova's request errors (R9) become
 * a ValidationError whose message is one sentence around Nova's text, and whose issue is the text itself.
 */
export function numaRequestOf(ask: NumaAsk): NumaRequest | null {
  try {
    return numaRequestFrom({
      vcpus: ask.flavor.vcpus,
      memoryMb: ask.flavor.memoryMb,
      extraSpecs: ask.flavor.extraSpecs,
      imageProperties: ask.image?.properties,
      topology: ask.numaTopology,
    });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const path = ask.numaTopology ? 'numaTopology' : 'flavor.extraSpecs';
    const text = error.message.replace(/\.$/, '');
    throw new ValidationError(`Invalid NUMA request: ${text}.`, [{ path, message: error.message }], { cause: error });
  }
}

/** The claim's PCI requests with their NUMA policy (rule R8: the flavor's or image's `pci_numa_affinity_policy`). */
export function pciRequestsOf(ask: NumaAsk & Sized): NumaPciRequest[] {
  const numaPolicy = pciNumaPolicyFrom({ extraSpecs: ask.flavor.extraSpecs, imageProperties: ask.image?.properties });
  return ask.pciRequests.map((r) => (numaPolicy ? { ...r, numaPolicy } : r));
}

/** The ratios shared cells are tested with: the request's, none (null), or else the node's own (rule D1). */
export function numaLimitsOf(ask: NumaAsk, node: Record<string, unknown>): NumaLimits | null {
  const asked = ask.limits.numaTopology;
  if (asked !== undefined) return asked;
  return { cpuAllocationRatio: Number(node.cpuAllocationRatio), ramAllocationRatio: Number(node.ramAllocationRatio) };
}

/**
 * One request's view of a node's cells: the store's fresh copy if it has one (rule NS7; with PCI requests,
 * with a fresh copy of the devices too), else one read; then corrected from what each lost race returns.
 */
export class CellView {
  node?: Record<string, unknown>;
  private cells?: Map<number, CellState>;
  /** The node's devices, read with the cells when the claim has PCI requests (the fit chooses them). */
  devices: PciDevice[] = [];
  /** True while the view is a read made by this request, false for a copy or once a cancellation corrected it. */
  fresh = false;
  /** The store's copy is taken once: a view forgotten after it reads. */
  private copied = false;
  /** Races this request lost on a cell: from the first on, its fit spreads (rule NU10). */
  races = 0;
  /** Ends the note of this request's fitted takes in the store's cache (NumaCellCache.hold). */
  private release?: () => void;

  /** Notes the takes of the fit just chosen until `unhold` (after its write is answered). */
  hold(store: Store, nodeId: string, takes: readonly CellChange[]): void {
    this.unhold();
    this.release = store.numaCells.hold(nodeId, takes);
  }

  unhold(): void {
    this.release?.();
    this.release = undefined;
  }

  async read(
    store: Store,
    nodeId: string,
    withDevices = false,
  ): Promise<{ node?: Record<string, unknown>; cells: CellState[] }> {
    if (!this.cells && !this.fromCopy(store, nodeId, withDevices)) {
      // With devices: the partition from the node item on (node, cells, devices), still one Query.
      const items = withDevices
        ? await readNodePartition(store, nodeId, nodeKey(nodeId).sk)
        : await nodeAndCellItems(store, nodeId);
      this.node = items.find((i) => i.sk === nodeKey(nodeId).sk);
      const cells = items.filter(isCellItem).map(cellOf);
      store.numaCells.remember(nodeId, this.node, cells);
      this.cells = new Map(cells.map((c) => [c.id, c]));
      this.devices = items.filter((i) => String(i.sk).startsWith(DEVICE_PREFIX)).map(deviceOf);
      this.fresh = true;
    }
    return { node: this.node, cells: [...(this.cells?.values() ?? [])] };
  }

  /** Takes the store's copy, if it is fresh (and the devices' copy too when they are needed). */
  private fromCopy(store: Store, nodeId: string, withDevices: boolean): boolean {
    const copy = this.copied ? undefined : store.numaCells.fresh(nodeId);
    const devices = withDevices ? store.devices.fresh(nodeId) : new Map<string, PciDevice>();
    if (!copy || !devices) return false;
    this.copied = true;
    this.node = copy.node;
    this.cells = new Map(copy.cells.map((c) => [c.id, c]));
    this.devices = [...devices.values()];
    this.fresh = false;
    return true;
  }

  /**
   * The cells whose conditions failed come back as they are now. A cell gone, or with a new inventory (the
   * node's cells and ratios may all have changed with it), and any other failure read everything again.
   */
  learn(reasons: Reasons): void {
    for (const [name, r] of reasons) {
      if (!name.startsWith('cell:') || r.Code !== 'ConditionalCheckFailed') continue;
      this.races++;
      const cell = r.Item && cellOf(r.Item);
      if (cell && this.cells?.get(cell.id)?.inventoryVersion === cell.inventoryVersion) {
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

/**
 * Fits the request on the cells as read (rules F1-F7, the domain's), with the conditions its writes carry:
 * what the fit was decided on, as thresholds on the stored usage (rule NS3), and the inventory version read,
 * so that an inventory change between the read and the write fails the claim instead.
 */
export function fitOnCells(
  cells: CellState[],
  request: NumaRequest,
  limits: NumaLimits | null,
  pci?: FitOptions['pci'],
  spread = 0,
): NumaFit {
  const host = { cells: hostCells(cells) };
  if (host.cells.length === 0) return { kind: 'no-topology' };
  const topology = fitNumaTopology(host, request, { limits, spread, ...(pci?.requests.length ? { pci } : {}) });
  if (!topology) return { kind: 'refused' };
  const version = new Map(host.cells.map((c) => [c.id, c.inventoryVersion]));
  const guards = new Map(
    fitConditions(host, topology, limits).map((c) => [
      c.cellId,
      { ...c, inventoryVersion: version.get(c.cellId) ?? 0 },
    ]),
  );
  return { kind: 'fitted', topology, taken: numaUsage(host.cells, topology, 1), guards };
}

/** The refusal of a request the cells cannot take: the scalar reasons from the node as read, then NUMA's (rule C2). */
export function numaRefusalError(
  node: Record<string, unknown>,
  sized: Sized,
  devices?: PciDevice[],
): InsufficientResources {
  const pci = sized.pciRequests.length > 0;
  // The devices cannot be met even without NUMA: Nova adds its PCI reason (§8).
  const pciShort = pci && devices !== undefined && !choose(byAddress(devices), sized.pciRequests);
  const why = [...refusalReasons(inventoryOf(node), usedOf(node), sized), ...numaReasons({ pci, pciShort })];
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

/** What one side of a move holds of NUMA, kept on the migration record next to its sizes (rule NS5). */
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

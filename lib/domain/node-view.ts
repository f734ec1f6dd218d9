import { nodeLimits, type Inventory } from './inventory';
import { currentWorkload, ioWorkload, runningVms, type Stats } from './stats';
import type { PciPool } from './pci';
import type { Amounts } from './resources';
import type { HostCell } from './numa-types';

/** A host NUMA cell as the ledger holds it; `reported` false once the inventory dropped it while it held usage. */
export interface NumaCellState extends HostCell {
  reported: boolean;
}

export interface NumaCellView {
  id: number;
  cpuset: number[];
  pcpuset: number[];
  memoryMb: number;
  siblings: number[][];
  cpuUsage: number;
  memoryUsageMb: number;
  pinnedCpus: number[];
  mempages: { sizeKb: number; total: number; reserved: number; used: number }[];
  /** Pinned CPUs the inventory no longer reports: pinned until released (rule NS2). */
  unknownPinnedCpus?: number[];
  /** Present (false) for a cell the inventory no longer reports that still holds usage. */
  reported?: false;
}

/** What a scheduler filters nodes on (rule G1): Placement-style traits and the aggregates the node is in. */
export interface NodeLabels {
  traits: string[];
  aggregates: string[];
}

/** A node as the ledger holds it: inventory, usage (reserved included) and the stats counters. */
export interface NodeState extends Inventory, Partial<NodeLabels> {
  nodeId: string;
  used: Amounts;
  stats: Stats;
  generation: number;
  /**
   * When the node was registered (ms), kept across its inventories: a node deleted and registered again
   * starts its generation over, and this orders the two (rule G13). Not in the node's view.
   */
  registeredAt?: number;
  /** Keyed by poolKey(); a pool whose devices are all gone stays with count 0 until the next inventory. */
  pciPools: Record<string, PciPool>;
  /** The NUMA cells, when they were read with the node (none: the node reports no topology). */
  numaCells?: NumaCellState[];
}

export interface NodeView extends Inventory, NodeLabels {
  nodeId: string;
  vcpusUsed: number;
  memoryMbUsed: number;
  localGbUsed: number;
  freeRamMb: number;
  freeDiskGb: number;
  runningVms: number;
  currentWorkload: number;
  limits: { vcpus: number; memoryMb: number; diskGb: number };
  stats: Stats;
  pciDevicePools: PciPool[];
  generation: number;
  numaTopology?: { cells: NumaCellView[] };
}

export function numaCellView(cell: NumaCellState): NumaCellView {
  const { id, cpuset, pcpuset, memoryMb, siblings, cpuUsage, memoryUsageMb, pinnedCpus, pagesUsed } = cell;
  const known = new Set(pcpuset);
  const unknown = pinnedCpus.filter((c) => !known.has(c));
  return {
    id,
    cpuset,
    pcpuset,
    memoryMb,
    siblings,
    cpuUsage,
    memoryUsageMb,
    pinnedCpus,
    mempages: cell.mempages.map((p) => ({ ...p, used: pagesUsed[String(p.sizeKb)] ?? 0 })),
    ...(unknown.length ? { unknownPinnedCpus: unknown } : {}),
    ...(cell.reported ? {} : { reported: false as const }),
  };
}

/** The node as clients see it. Free values ignore ratios and may be negative (rules N5, N6). */
export function nodeView(node: NodeState): NodeView {
  const { nodeId, used, stats, generation, pciPools, numaCells, traits = [], aggregates = [], ...rest } = node;
  const { registeredAt: _registeredAt, ...inventory } = rest;
  const limits = nodeLimits(inventory);
  return {
    nodeId,
    ...inventory,
    vcpusUsed: used.vcpus,
    memoryMbUsed: used.memoryMb,
    localGbUsed: used.diskGb,
    freeRamMb: inventory.memoryMb - used.memoryMb,
    freeDiskGb: inventory.localGb - used.diskGb,
    runningVms: runningVms(stats),
    currentWorkload: currentWorkload(stats),
    limits: { vcpus: limits.vcpus, memoryMb: limits.memoryMb, diskGb: limits.diskGb },
    stats: { ...stats, io_workload: ioWorkload(stats) },
    pciDevicePools: Object.keys(pciPools)
      .sort()
      .map((k) => pciPools[k] as PciPool)
      .filter((p) => p.count > 0),
    generation,
    traits,
    aggregates,
    ...(numaCells?.length ? { numaTopology: { cells: numaCells.map(numaCellView) } } : {}),
  };
}

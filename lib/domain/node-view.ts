import { nodeLimits, type Inventory } from './inventory';
import { currentWorkload, ioWorkload, runningVms, type Stats } from './stats';
import type { PciPool } from './pci';
import type { Amounts } from './resources';

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
  /** Keyed by poolKey(); a pool whose devices are all gone stays with count 0 until the next inventory. */
  pciPools: Record<string, PciPool>;
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
}

/** The node as clients see it. Free values ignore ratios and may be negative (rules N5, N6). */
export function nodeView(node: NodeState): NodeView {
  const { nodeId, used, stats, generation, pciPools, traits = [], aggregates = [], ...inventory } = node;
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
  };
}

// Nova's update_available_resource as a drift check (docs/audit.md, N5, M10, D4): the node's usage
// recomputed from scratch from what it tracks, to find and repair what changed from outside.
import { reserved, type Inventory } from './inventory';
import { add, RESOURCES, ZERO, type Amounts } from './resources';
import { statsOf, type InstanceState, type Stats } from './stats';

export interface Orphan {
  instanceUuid: string;
  memoryMb: number;
}

/** The orphans an agent reported, one entry per instance: listed twice, the larger memory counts once. */
export function orphanSet(orphans: readonly Orphan[]): Record<string, number> {
  const set: Record<string, number> = {};
  for (const o of orphans) set[o.instanceUuid] = Math.max(set[o.instanceUuid] ?? 0, o.memoryMb);
  return set;
}

export interface Recount {
  /** What the tracked instances, the move holds and the orphans hold. */
  claimed: Amounts;
  /** claimed + what the host reserves (rule N5). */
  used: Amounts;
  stats: Stats;
  /** Instance records and holds. */
  tracked: number;
  orphanMemoryMb: number;
}

/**
 * The usage a node should show: the baseline of what the host reserves, every tracked instance, every
 * move hold (rule M7 as the holds record it) and, memory only, every orphan the hypervisor runs that
 * the node does not track (rule M10). Stats are rebuilt from the instances alone, as Nova clears and re-seeds them.
 */
export function recount(
  inventory: Inventory,
  instances: (Amounts & InstanceState & { instanceUuid?: string })[],
  holds: (Amounts & { instanceUuid?: string })[],
  orphans: readonly Orphan[],
): Recount {
  let claimed = ZERO;
  for (const i of instances) claimed = add(claimed, { memoryMb: i.memoryMb, diskGb: i.diskGb, vcpus: i.vcpus });
  for (const h of holds) claimed = add(claimed, { memoryMb: h.memoryMb, diskGb: h.diskGb, vcpus: h.vcpus });
  // An orphan the node tracks after all (an instance, or a move's hold) is already counted, as Nova's
  // _find_orphaned_instances leaves out tracked instances and migrations.
  const tracked = new Set([...instances, ...holds].map((x) => x.instanceUuid));
  const orphanMemoryMb = Object.entries(orphanSet(orphans)).reduce(
    (sum, [uuid, mb]) => sum + (tracked.has(uuid) ? 0 : mb),
    0,
  );
  claimed = add(claimed, { memoryMb: orphanMemoryMb, diskGb: 0, vcpus: 0 });
  return {
    claimed,
    used: add(reserved(inventory), claimed),
    stats: statsOf(instances),
    tracked: instances.length + holds.length,
    orphanMemoryMb,
  };
}

/** after - before, per resource, as the audit reports it. */
export function drift(
  before: Amounts,
  after: Amounts,
): { memoryMbUsed: number; localGbUsed: number; vcpusUsed: number } {
  const d = {} as Amounts;
  for (const r of RESOURCES) d[r] = after[r] - before[r];
  return { memoryMbUsed: d.memoryMb, localGbUsed: d.diskGb, vcpusUsed: d.vcpus };
}

/** Running but not tracked, and tracked but not running (only when the hypervisor's list is given). */
export function compareWithHypervisor(tracked: string[], running: string[] | undefined) {
  if (!running) return { unknownInstances: [], missingInstances: [] };
  const known = new Set(tracked);
  const seen = new Set(running);
  return {
    unknownInstances: running.filter((u) => !known.has(u)).sort(),
    missingInstances: tracked.filter((u) => !seen.has(u)).sort(),
  };
}

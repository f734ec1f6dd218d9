// Choosing nodes for a guest (rules G2, G3, G6): filters, the claim test on what the fleet view says, and the
// weighing. Pure: what it reads may be stale, and the claim's conditional write has the last word (rule G4).
import { effectiveLimits, exceeds } from './claim-test';
import type { PciRequest, Sized } from './claim';
import { nodeLimits } from './inventory';
import type { NodeState } from './node-view';
import { matches, type PciDevice, type PciPool } from './pci';
import { RESOURCES, type Resource } from './resources';
import { groupAdmits, groupWeight, type GroupHere } from './server-groups';
import { instanceUsage } from './usage';

export type Strategy = 'spread' | 'pack';

export interface Filters {
  /** Traits the node must have, all of them. */
  required: readonly string[];
  /** Traits it must not have. */
  forbidden: readonly string[];
  /** Aggregates it must be in, at least one of them (Placement's member_of). */
  memberOf: readonly string[];
  /** Only these nodes, when given. */
  candidates?: readonly string[];
}

export interface Candidate {
  nodeId: string;
  freeRamMb: number;
  freeDiskGb: number;
  vcpusFree: number;
  weight: number;
}

/** Why a node in scope was left out, by resource class (Placement's names) or by filter: NoValidHost's summary (rule G6). */
export type Reason = 'MEMORY_MB' | 'DISK_GB' | 'VCPU' | 'PCI_DEVICE' | 'TRAITS' | 'SERVER_GROUP';

const CLASS_OF: Record<Resource, Reason> = { memoryMb: 'MEMORY_MB', diskGb: 'DISK_GB', vcpus: 'VCPU' };

/** Whether the node is among those asked about at all: the `candidates` given, in one of the `memberOf` aggregates. */
export function inScope(node: Pick<NodeState, 'nodeId' | 'aggregates'>, f: Filters): boolean {
  if (f.candidates && !f.candidates.includes(node.nodeId)) return false;
  return !f.memberOf.length || f.memberOf.some((a) => (node.aggregates ?? []).includes(a));
}

/** A node in scope that the trait filters leave out. */
export function passesFilters(node: Pick<NodeState, 'traits'>, f: Filters): Reason | null {
  const traits = node.traits ?? [];
  return f.required.some((t) => !traits.includes(t)) || f.forbidden.some((t) => traits.includes(t)) ? 'TRAITS' : null;
}

/** Whether the node's free pools could meet the requests, each device counted once (the write decides exactly). */
export function poolsFit(pools: Record<string, PciPool>, requests: readonly PciRequest[]): boolean {
  const free = new Map(Object.entries(pools).map(([k, p]) => [k, p.free]));
  for (const request of requests) {
    let wanted = request.count;
    for (const [key, pool] of Object.entries(pools)) {
      // A pool carries a device's matching fields; PFs only when asked for by type (rule P4).
      const asDevice = pool as unknown as PciDevice;
      if (pool.deviceType === 'type-PF' && !request.spec.some((s) => s.deviceType === 'type-PF')) continue;
      if (!request.spec.some((s) => matches(asDevice, s))) continue;
      const take = Math.min(wanted, free.get(key) ?? 0);
      free.set(key, (free.get(key) ?? 0) - take);
      wanted -= take;
    }
    if (wanted > 0) return false;
  }
  return true;
}

/** Why the claim does not fit the node now (empty: it fits), by resource class in Nova's order. */
export function misfits(
  node: NodeState,
  request: Sized,
  requested = instanceUsage(request.flavor, request.overhead, request.volumeBacked),
): Reason[] {
  const limits = effectiveLimits(nodeLimits(node), request.limits);
  // The claim test's own comparison, in its order (rule C7), without its texts.
  const out = RESOURCES.filter((r) => exceeds(limits[r], node.used[r], requested[r])).map((r) => CLASS_OF[r]);
  if (request.pciRequests.length && !poolsFit(node.pciPools, request.pciRequests)) out.push('PCI_DEVICE');
  return out;
}

export const freeFigures = (node: NodeState) => ({
  freeRamMb: node.memoryMb - node.used.memoryMb,
  freeDiskGb: node.localGb - node.used.diskGb,
  vcpusFree: node.vcpus - node.used.vcpus,
});

export interface Ranked {
  candidates: Candidate[];
  /** Nodes left out, per reason (a node counts once, under its first reason). */
  reasons: Partial<Record<Reason, number>>;
}

/**
 * The nodes where the claim fits, best first (rule G3). spread (Nova's default weighers): most free memory, then
 * free vCPUs, then free disk; pack the reverse. A soft server group comes before either: soft-affinity draws to
 * nodes with more members, soft-anti-affinity to fewer. `weight` is the group term plus the free memory scaled to
 * 0..1 over the candidates (1 is the best of them); ties go to the next figure, then to the nodeId.
 */
export function rankCandidates(
  fleet: Iterable<NodeState>,
  request: Sized,
  filters: Filters,
  strategy: Strategy,
  group?: (nodeId: string) => GroupHere | undefined,
  limit = Infinity,
): Ranked {
  const reasons: Partial<Record<Reason, number>> = {};
  const requested = instanceUsage(request.flavor, request.overhead, request.volumeBacked);
  const note = (r: Reason) => (reasons[r] = (reasons[r] ?? 0) + 1);
  const fits: { node: NodeState; free: ReturnType<typeof freeFigures>; soft: number }[] = [];
  for (const node of fleet) {
    // Nodes outside the scope asked about are no reason for anything.
    if (!inScope(node, filters)) continue;
    const filtered = passesFilters(node, filters);
    if (filtered) {
      note(filtered);
      continue;
    }
    const here = group?.(node.nodeId);
    if (here && !groupAdmits(here, node.nodeId)) {
      note('SERVER_GROUP');
      continue;
    }
    const misfit = misfits(node, request, requested)[0];
    if (misfit) {
      note(misfit);
      continue;
    }
    fits.push({ node, free: freeFigures(node), soft: here ? groupWeight(here) : 0 });
  }
  const sign = strategy === 'spread' ? 1 : -1;
  let [lo, hi] = [Infinity, -Infinity];
  for (const { free } of fits) [lo, hi] = [Math.min(lo, free.freeRamMb), Math.max(hi, free.freeRamMb)];
  const scaled = (ram: number) => (hi === lo ? 1 : sign > 0 ? (ram - lo) / (hi - lo) : (hi - ram) / (hi - lo));
  const all = fits.map(({ node, free, soft }) => ({
    nodeId: node.nodeId,
    ...free,
    weight: soft + scaled(free.freeRamMb),
  }));
  const order = (a: Candidate, b: Candidate) =>
    b.weight - a.weight || sign * (b.vcpusFree - a.vcpusFree) || sign * (b.freeDiskGb - a.freeDiskGb) || byNodeId(a, b);
  return { candidates: best(all, limit, order), reasons };
}

/** Nodes in nodeId order, as the node index lists them: the last tie-breaker of a ranking. */
export const byNodeId = (a: { nodeId: string }, b: { nodeId: string }) =>
  a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0;

/**
 * The first `limit` of `items` in `order`, as a full sort would give them. A query asks for a few of many
 * thousands: each item is compared with the worst kept so far and mostly goes no further, where sorting them all
 * compares every item with many others.
 */
export function best<T>(items: readonly T[], limit: number, order: (a: T, b: T) => number): T[] {
  if (limit <= 0) return [];
  if (items.length <= limit) return [...items].sort(order);
  const kept: T[] = [];
  for (const item of items) {
    if (kept.length === limit && order(item, kept[limit - 1]!) >= 0) continue;
    let [lo, hi] = [0, kept.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order(item, kept[mid]!) < 0) hi = mid;
      else lo = mid + 1;
    }
    kept.splice(lo, 0, item);
    if (kept.length > limit) kept.pop();
  }
  return kept;
}

/**
 * A gang's nodes (rule G11): each member in turn on the best node of the view as the members before it left it,
 * the group's policy counting them too. Undefined, with the reasons of the member that found no node, if one fits nowhere.
 */
export function assignGang(
  fleet: Iterable<NodeState>,
  members: readonly Sized[],
  filters: Filters,
  strategy: Strategy,
  group?: (nodeId: string) => GroupHere,
): { nodeIds: string[] } | { reasons: Ranked['reasons'] } {
  const nodes = new Map([...fleet].map((n) => [n.nodeId, { ...n, used: { ...n.used } }]));
  const joined = new Map<string, number>();
  const nodeIds: string[] = [];
  for (const member of members) {
    const here = group
      ? (nodeId: string): GroupHere => {
          const { group: g, here: n } = group(nodeId);
          const hostNode = g.memberCount > 0 ? g.hostNode : (nodeIds[0] ?? g.hostNode);
          const memberCount = g.memberCount + nodeIds.length;
          return { group: { ...g, memberCount, hostNode }, here: n + (joined.get(nodeId) ?? 0) };
        }
      : undefined;
    const { candidates, reasons } = rankCandidates(nodes.values(), member, filters, strategy, here, 1);
    const best = candidates[0];
    if (!best) return { reasons };
    const node = nodes.get(best.nodeId) as NodeState;
    const take = instanceUsage(member.flavor, member.overhead, member.volumeBacked);
    node.used = {
      memoryMb: node.used.memoryMb + take.memoryMb,
      diskGb: node.used.diskGb + take.diskGb,
      vcpus: node.used.vcpus + take.vcpus,
    };
    joined.set(best.nodeId, (joined.get(best.nodeId) ?? 0) + 1);
    nodeIds.push(best.nodeId);
  }
  return { nodeIds };
}

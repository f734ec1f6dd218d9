// The reference model of placement and server groups (docs/placement.md, rules G2, G7-G11), for the placement
// campaign: sequential, in memory, written from the rules and not from lib/ (it never imports lib/domain's
// placement or groups). Usage is derived from the live instances, never stored, so it cannot drift. What it
// decides: which nodes a request may go to (scope and traits), whether it fits, and whether a hard group policy
// lets one more member on a node; the campaign holds the service's answers and state against it.
import { LedgerModel, limitsOf, RES, reservedOf, usage, type Amounts, type Inventory } from './ledger-model';

export type Policy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';
export interface GroupSpec {
  id: string;
  policy: Policy;
  maxServerPerHost?: number;
}

/** The campaign's groups: every policy, and anti-affinity with two limits. */
export const GROUPS: GroupSpec[] = [
  { id: 'aff', policy: 'affinity' },
  { id: 'anti', policy: 'anti-affinity' },
  { id: 'anti2', policy: 'anti-affinity', maxServerPerHost: 2 },
  { id: 'soft', policy: 'soft-affinity' },
  { id: 'softanti', policy: 'soft-anti-affinity' },
];

export const TRAITS = ['CUSTOM_A', 'CUSTOM_B'];
export const AGGREGATES = ['az1', 'az2'];

export interface ModelNode {
  id: string;
  inventory: Inventory;
  traits: string[];
  aggregates: string[];
}

export interface Flavor {
  vcpus: number;
  memoryMb: number;
  rootGb: number;
}

export interface Filters {
  required?: string[];
  forbidden?: string[];
  memberOf?: string[];
  candidates?: string[];
}

export interface Live {
  uuid: string;
  node: string;
  amounts: Amounts;
  group?: string;
}

export const amountsOf = (flavor: Flavor): Amounts =>
  usage({
    flavor: { ...flavor, ephemeralGb: 0, swapMb: 0 },
    overhead: { memoryMb: 0, diskGb: 0, vcpus: 0 },
    volumeBacked: false,
  });

const add = (a: Amounts, b: Amounts, sign = 1): Amounts =>
  Object.fromEntries(RES.map((r) => [r, a[r] + sign * b[r]])) as Amounts;

const times = (a: Amounts, n: number): Amounts => Object.fromEntries(RES.map((r) => [r, a[r] * n])) as Amounts;

/** Members of a group per node, as a plain count map. */
export type Membership = Map<string, number>;

export class PlacementModel {
  readonly nodes = new Map<string, ModelNode>();
  readonly live = new Map<string, Live>();
  readonly groups = new Map(GROUPS.map((g) => [g.id, g]));

  addNode(node: ModelNode): void {
    this.nodes.set(node.id, node);
  }

  admit(live: Live): void {
    if (this.live.has(live.uuid)) throw new Error(`model: ${live.uuid} admitted twice`);
    this.live.set(live.uuid, live);
  }

  release(uuid: string): Live {
    const live = this.live.get(uuid);
    if (!live) throw new Error(`model: ${uuid} released but not live`);
    this.live.delete(uuid);
    return live;
  }

  /** What the node's instances take, the host's reserve left out. */
  claimed(nodeId: string): Amounts {
    let sum: Amounts = { memoryMb: 0, diskGb: 0, vcpus: 0 };
    for (const l of this.live.values()) if (l.node === nodeId) sum = add(sum, l.amounts);
    return sum;
  }

  used(nodeId: string): Amounts {
    const node = this.nodes.get(nodeId);
    if (!node) throw new Error(`model: no node ${nodeId}`);
    return add(reservedOf(node.inventory), this.claimed(nodeId));
  }

  membership(groupId: string): Membership {
    const out: Membership = new Map();
    for (const l of this.live.values()) if (l.group === groupId) out.set(l.node, (out.get(l.node) ?? 0) + 1);
    return out;
  }

  /** Rule G2's scope and trait filters (the resources and the group are tested apart). */
  inScope(nodeId: string, f: Filters): boolean {
    const n = this.nodes.get(nodeId);
    if (!n) return false;
    if (f.candidates && !f.candidates.includes(nodeId)) return false;
    if (f.memberOf?.length && !f.memberOf.some((a) => n.aggregates.includes(a))) return false;
    if (f.required?.some((t) => !n.traits.includes(t))) return false;
    return !f.forbidden?.some((t) => n.traits.includes(t));
  }

  fits(nodeId: string, used: Amounts, requested: Amounts): boolean {
    return LedgerModel.fits(limitsOf((this.nodes.get(nodeId) as ModelNode).inventory), used, requested);
  }

  /** Whether the hard policy lets one more member on `nodeId`, given the members per node (rule G8). */
  admits(groupId: string | undefined, nodeId: string, members: Membership): boolean {
    const g = groupId === undefined ? undefined : this.groups.get(groupId);
    if (!g) return true;
    switch (g.policy) {
      case 'anti-affinity':
        return (members.get(nodeId) ?? 0) < (g.maxServerPerHost ?? 1);
      case 'affinity':
        return [...members].every(([n, count]) => n === nodeId || count === 0);
      case 'soft-affinity':
      case 'soft-anti-affinity':
        return true;
    }
  }

  /** What must hold in any state: no node over its limits, every hard policy kept. */
  invariants(): string[] {
    const problems: string[] = [];
    for (const id of this.nodes.keys()) {
      const used = this.used(id);
      const limits = limitsOf((this.nodes.get(id) as ModelNode).inventory);
      for (const r of RES) if (used[r] > limits[r]) problems.push(`${id} uses ${used[r]} ${r}, over ${limits[r]}`);
    }
    for (const g of GROUPS) {
      const members = this.membership(g.id);
      if (g.policy === 'affinity' && members.size > 1) problems.push(`affinity group on ${[...members.keys()]}`);
      if (g.policy !== 'anti-affinity') continue;
      for (const [node, n] of members) {
        if (n > (g.maxServerPerHost ?? 1)) problems.push(`${g.id} has ${n} members on ${node}`);
      }
    }
    return problems;
  }
}

/**
 * What a step did, to judge its answers soundly though its requests ran at once: a refusal is wrong only if the
 * request fitted (and its group allowed it) at the highest usage and membership the node can have had during the
 * step, and an admission only if it did not fit at the lowest.
 */
export class StepBounds {
  private readonly startUsed = new Map<string, Amounts>();
  private readonly startMembers = new Map<string, Membership>();
  private readonly admitted: Live[] = [];
  private readonly released: Live[] = [];

  constructor(private readonly model: PlacementModel) {
    for (const id of model.nodes.keys()) this.startUsed.set(id, model.used(id));
    for (const g of GROUPS) this.startMembers.set(g.id, model.membership(g.id));
  }

  admit(live: Live): void {
    this.admitted.push(live);
  }

  release(live: Live): void {
    this.released.push(live);
  }

  private used(nodeId: string, extremes: Live[], sign: number): Amounts {
    let used = this.startUsed.get(nodeId) as Amounts;
    for (const l of extremes) if (l.node === nodeId) used = add(used, l.amounts, sign);
    return used;
  }

  private members(groupId: string, extremes: Live[], sign: number): Membership {
    const out = new Map(this.startMembers.get(groupId));
    for (const l of extremes) if (l.group === groupId) out.set(l.node, (out.get(l.node) ?? 0) + sign);
    return out;
  }

  /** The nodes on which the request fitted throughout the step: a refusal while one existed is wrong. */
  roomThroughout(requested: Amounts, groupId: string | undefined, nodes: string[]): string[] {
    const members = groupId === undefined ? new Map() : this.members(groupId, this.admitted, 1);
    return nodes.filter(
      (n) => this.model.fits(n, this.used(n, this.admitted, 1), requested) && this.model.admits(groupId, n, members),
    );
  }

  /**
   * How many members of a gang the nodes take whatever the service's choices, its hard policy kept: per node, the
   * most copies of the gang's largest member (the largest of each resource) that fit at the highest usage of the
   * step and that the policy admits at the group's highest membership. Members assigned one by one (rule G11) can
   * run out of nodes only after filling every node to its count, so a gang no larger than the sum always finds
   * one. Affinity answers 0: there the first member's node must take them all, and which one it is depends on the
   * service's ranking.
   */
  gangSlotsThroughout(members: Amounts[], groupId: string | undefined, nodes: string[]): number {
    if (groupId !== undefined && this.model.groups.get(groupId)?.policy === 'affinity') return 0;
    const largest = Object.fromEntries(RES.map((r) => [r, Math.max(...members.map((m) => m[r]))])) as Amounts;
    const joined: Membership = groupId === undefined ? new Map() : this.members(groupId, this.admitted, 1);
    return nodes.reduce((sum, n) => {
      const used = this.used(n, this.admitted, 1);
      const here = new Map(joined);
      let copies = 0;
      while (
        copies < members.length &&
        this.model.admits(groupId, n, here) &&
        this.model.fits(n, used, times(largest, copies + 1))
      ) {
        copies++;
        here.set(n, (here.get(n) ?? 0) + 1);
      }
      return sum + copies;
    }, 0);
  }

  /** Whether an admitted request fitted at the lowest the node's usage and the group's membership can have been. */
  couldFit(requested: Amounts, groupId: string | undefined, nodeId: string): boolean {
    const members = groupId === undefined ? new Map() : this.members(groupId, this.released, -1);
    return (
      this.model.fits(nodeId, this.used(nodeId, this.released, -1), requested) &&
      this.model.admits(groupId, nodeId, members)
    );
  }
}

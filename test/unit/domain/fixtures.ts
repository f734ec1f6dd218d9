// Fixtures of the worked examples and a small in-memory ledger composed only of lib/domain's public functions.
import {
  add,
  applyStatsDelta,
  consumesNothing,
  INVENTORY_DEFAULTS,
  nodeView,
  planClaim,
  refusalReasons,
  reserved,
  scale,
  statsDelta,
  ZERO,
  type Amounts,
  type ClaimRequest,
  type Flavor,
  type InstanceState,
  type Inventory,
  type NodeView,
  type Stats,
} from '../../../lib/domain';

/** Node N0: 4 vCPUs, 512 MB, 6 GB, Nova's ratios, nothing reserved. */
export const N0: Inventory = {
  vcpus: 4,
  memoryMb: 512,
  localGb: 6,
  cpuAllocationRatio: 16,
  ramAllocationRatio: 1.5,
  diskAllocationRatio: 1,
  reservedHostMemoryMb: 0,
  reservedHostDiskMb: 0,
  reservedHostCpus: 0,
};

/** A node of the given size with Nova's defaults for everything else. */
export const inventory = (over: Partial<Inventory>): Inventory => ({
  vcpus: 1,
  memoryMb: 1024,
  localGb: 10,
  ...INVENTORY_DEFAULTS,
  ...over,
});

export const F1: Flavor = { vcpus: 1, memoryMb: 128, rootGb: 1, ephemeralGb: 0, swapMb: 0 };

export const flavor = (over: Partial<Flavor> = {}): Flavor => ({ ...F1, ...over });

export const EMPTY_FLAVOR: Flavor = { vcpus: 0, memoryMb: 0, rootGb: 0, ephemeralGb: 0, swapMb: 0 };

export const amounts = (memoryMb: number, diskGb: number, vcpus: number): Amounts => ({ memoryMb, diskGb, vcpus });

/** Instance I1 of the examples: F1, active, no task, fake-os, fake-project, no overhead, no limits. */
export const request = (over: Partial<ClaimRequest> = {}): ClaimRequest => ({
  instanceUuid: 'I1',
  pciRequests: [],
  vmState: 'active',
  taskState: null,
  osType: 'fake-os',
  projectId: 'fake-project',
  flavor: F1,
  volumeBacked: false,
  overhead: { ...ZERO },
  limits: {},
  ...over,
});

export const state = (over: Partial<InstanceState> = {}): InstanceState => ({
  vmState: 'active',
  taskState: null,
  osType: 'fake-os',
  projectId: 'fake-project',
  ...over,
});

interface Tracked {
  state: InstanceState;
  amounts: Amounts;
}

/**
 * The ledger of one node as the store keeps it: used = reserved + the usage of the tracked instances,
 * stats = the sum of the claim, state-change and release deltas; the view shows them as the store computes
 * them from the records (rule S6), without the keys the deltas left at 0.
 */
export class Ledger {
  used: Amounts;
  stats: Stats = {};
  private readonly instances = new Map<string, Tracked>();

  constructor(public inventory: Inventory) {
    this.used = reserved(inventory);
  }

  /** Nova's claim: the reasons it is refused, or [] after taking the resources. */
  claim(req: ClaimRequest): string[] {
    const why = refusalReasons(this.inventory, this.used, req);
    if (why.length) return why;
    const plan = planClaim(req);
    this.used = add(this.used, plan.amounts);
    this.stats = applyStatsDelta(this.stats, statsDelta(undefined, req, false));
    this.instances.set(req.instanceUuid, { state: req, amounts: plan.amounts });
    return [];
  }

  /** A state change; entering a releasing state gives the resources back. */
  update(uuid: string, next: InstanceState): void {
    const tracked = this.tracked(uuid);
    this.stats = applyStatsDelta(this.stats, statsDelta(tracked.state, next, false));
    if (consumesNothing(next)) this.drop(uuid, tracked);
    else tracked.state = next;
  }

  release(uuid: string): void {
    const tracked = this.tracked(uuid);
    this.stats = applyStatsDelta(this.stats, statsDelta(tracked.state, tracked.state, true));
    this.drop(uuid, tracked);
  }

  view(): NodeView {
    return nodeView({
      nodeId: 'N0',
      ...this.inventory,
      used: this.used,
      stats: Object.fromEntries(Object.entries(this.stats).filter(([, n]) => n !== 0)),
      generation: 1,
      pciPools: {},
    });
  }

  private tracked(uuid: string): Tracked {
    const tracked = this.instances.get(uuid);
    if (!tracked) throw new Error(`instance ${uuid} is not tracked`);
    return tracked;
  }

  private drop(uuid: string, tracked: Tracked): void {
    this.used = add(this.used, scale(tracked.amounts, -1));
    this.instances.delete(uuid);
  }
}

/** The figures of a view the worked examples state: used a/b/c, free x/y. */
export const usedAndFree = (v: NodeView) => ({
  used: [v.memoryMbUsed, v.localGbUsed, v.vcpusUsed],
  free: [v.freeRamMb, v.freeDiskGb],
});

/** A deterministic `random` (mulberry32), for searches that choose among equals and for seeded properties. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The reference model of the whole ledger: sequential, in memory, written from the rules in docs/ and not
// from lib/. Usage is never stored here, only derived (reserved + what the instances and holds on a node
// take), so a model state cannot drift by construction. The campaign compares the service with it.

export type Res = 'memoryMb' | 'diskGb' | 'vcpus';
export const RES: Res[] = ['memoryMb', 'diskGb', 'vcpus'];
export type Amounts = Record<Res, number>;

export interface Inventory {
  vcpus: number;
  memoryMb: number;
  localGb: number;
  cpuAllocationRatio: number;
  ramAllocationRatio: number;
  diskAllocationRatio: number;
  reservedHostMemoryMb: number;
  reservedHostDiskMb: number;
  reservedHostCpus: number;
  /** Host NUMA cells (docs/numa.md H1), on the one node that has them. */
  numaTopology?: { cells: HostCell[] };
}

export interface HostCell {
  id: number;
  cpuset: number[];
  pcpuset: number[];
  memoryMb: number;
  siblings: number[][];
  mempages: { sizeKb: number; total: number }[];
}

export interface DeviceSpec {
  address: string;
  vendorId: string;
  productId: string;
  numaNode: number | null;
  deviceType: 'type-PCI' | 'type-PF' | 'type-VF';
  parentAddress?: string;
  physicalNetwork?: string;
}

export interface Flavor {
  vcpus: number;
  memoryMb: number;
  rootGb: number;
  ephemeralGb: number;
  swapMb: number;
  /** Nova's hw: properties (docs/numa.md R1-R8): a NUMA request. */
  extraSpecs?: Record<string, string>;
}

export interface State {
  vmState: string;
  taskState: string | null;
  osType: string | null;
  projectId: string | null;
}

export interface PciRequest {
  count: number;
  spec: Partial<Record<'vendorId' | 'productId' | 'deviceType' | 'physicalNetwork', string>>[];
  /** Set when the request comes from a flavor's alias, not a port (only a live migration tells them apart). */
  aliasName?: string;
}

/** One side of an instance: what it takes and the devices it holds. */
export interface Size {
  flavor: Flavor;
  overhead: Amounts;
  volumeBacked: boolean;
  devices: string[];
}

export interface Device {
  spec: DeviceSpec;
  /**
   * The instances holding it: one at most, except for a moment when the campaign applies concurrent
   * requests in the order their answers came back (see `clock`), which can differ from the commit order.
   */
  holders: string[];
  /** Gone from the last inventory while held: kept until released. */
  removed: boolean;
}

/** When the request being applied was sent and answered (ms, any monotonic clock). */
export interface Clock {
  start: number;
  end: number;
}

export interface Node {
  id: string;
  inventory: Inventory;
  devices: Map<string, Device>;
  /** The agent's last report of orphans (rule M10): uuid -> memory; they persist across audits. */
  orphans: Map<string, number>;
}

export interface Instance {
  uuid: string;
  nodeId: string;
  size: Size;
  state: State;
  migrationId?: string;
  /** The node of its claim (a move changes nodeId, not this). */
  claimedOn: string;
}

export type MoveType = 'resize' | 'migration' | 'evacuation' | 'live-migration';

export interface Migration {
  id: string;
  uuid: string;
  moveType: MoveType;
  src: string;
  dst: string;
  old: Size;
  new: Size;
  status: string;
  sequence: number;
  /** The holds still there (a drop_move_claim removes one by hand). */
  holds: { old: boolean; new: boolean };
}

/** States that consume nothing (rule M9): deleted, and shelved_offloaded unless it is being unshelved. */
export const releasing = (s: { vmState: string; taskState: string | null }) =>
  s.vmState === 'deleted' ||
  (s.vmState === 'shelved_offloaded' && s.taskState !== 'spawning' && s.taskState !== 'unshelving');
// A live migration's own steps sit among the claimed phase's ranks (0 to 3): no lifecycle has both kinds.
const RANK: Record<string, number> = {
  accepted: 0,
  queued: 0.3,
  preparing: 0.6,
  running: 2,
  completed: 6,
  'pre-migrating': 1,
  migrating: 2,
  'post-migrating': 3,
  finished: 4,
  confirming: 5,
  reverting: 5,
  confirmed: 6,
  reverted: 6,
  error: 6,
  failed: 6,
  cancelled: 6,
  done: 6,
};
const COMMON = ['accepted', 'pre-migrating', 'migrating', 'post-migrating', 'error', 'failed', 'cancelled'];
const LIFECYCLE: Record<MoveType, Set<string>> = {
  resize: new Set([...COMMON, 'finished', 'confirming', 'reverting', 'confirmed', 'reverted']),
  migration: new Set([...COMMON, 'finished', 'confirming', 'reverting', 'confirmed', 'reverted']),
  evacuation: new Set([...COMMON, 'done']),
  'live-migration': new Set([
    'accepted',
    'queued',
    'preparing',
    'running',
    'post-migrating',
    'completed',
    'error',
    'failed',
    'cancelled',
  ]),
};
const IO_TASKS = new Set([
  'resize_migrating',
  'rebuilding',
  'resize_prep',
  'image_snapshot',
  'image_backup',
  'rescuing',
  'unshelving',
]);

export const usage = (s: Omit<Size, 'devices'>): Amounts => ({
  memoryMb: s.flavor.memoryMb + s.overhead.memoryMb,
  diskGb: (s.volumeBacked ? 0 : s.flavor.rootGb) + s.flavor.ephemeralGb + s.flavor.swapMb / 1024 + s.overhead.diskGb,
  vcpus: s.flavor.vcpus + s.overhead.vcpus,
});

export const limitsOf = (inv: Inventory): Amounts => ({
  memoryMb: inv.memoryMb * inv.ramAllocationRatio,
  diskGb: inv.localGb * inv.diskAllocationRatio,
  vcpus: inv.vcpus * inv.cpuAllocationRatio,
});

export const reservedOf = (inv: Inventory): Amounts => ({
  memoryMb: inv.reservedHostMemoryMb,
  diskGb: Math.floor(inv.reservedHostDiskMb / 1024),
  vcpus: inv.reservedHostCpus,
});

export type Decision = 'apply' | 'ignore' | 'invalid';

export class ModelError extends Error {}

export class LedgerModel {
  readonly nodes = new Map<string, Node>();
  readonly instances = new Map<string, Instance>();
  /**
   * Released instances, by the node their claim was made on: that claim sent again there is refused
   * (409 InstanceConflict) while the release window lasts, which a campaign never outlasts (rule O5).
   */
  readonly released = new Map<string, string>();
  readonly migrations = new Map<string, Migration>();
  /** Set by whoever applies a request, before applying it. */
  clock: Clock = { start: 0, end: 0 };
  /** What the model proved wrong in the service's answers: a device given out twice. */
  readonly violations: string[] = [];
  /** Devices given to a claim while the model still saw another holder, with when that claim was answered. */
  private overlaps: { node: string; address: string; taker: string; answeredAt: number }[] = [];

  // ---- reading the model -------------------------------------------------------------------------

  node(id: string): Node {
    const n = this.nodes.get(id);
    if (!n) throw new ModelError(`model: no node ${id}`);
    return n;
  }

  /** Everything a node holds: its instance records and the holds moves keep there. */
  holdings(nodeId: string): {
    instances: Instance[];
    holds: { migration: Migration; role: 'old' | 'new'; size: Size }[];
  } {
    const instances = [...this.instances.values()].filter((i) => i.nodeId === nodeId);
    const holds = [];
    for (const m of this.migrations.values()) {
      if (m.holds.old && m.src === nodeId) holds.push({ migration: m, role: 'old' as const, size: m.old });
      if (m.holds.new && m.dst === nodeId) holds.push({ migration: m, role: 'new' as const, size: m.new });
    }
    return { instances, holds };
  }

  /**
   * What the node's cells must hold in all, whichever cells the service's fit chose (the model does not fit):
   * pinned CPUs = the dedicated vCPUs, shared CPU usage = the other vCPUs of NUMA guests, memory = their
   * memory, and 2 MiB pages = their memory in such pages. Undefined for a node without a topology (rule H5).
   */
  cellTotals(nodeId: string): { pinned: number; cpuUsage: number; memoryMb: number; pages2048: number } | undefined {
    if (!this.node(nodeId).inventory.numaTopology) return undefined;
    const total = { pinned: 0, cpuUsage: 0, memoryMb: 0, pages2048: 0 };
    const { instances, holds } = this.holdings(nodeId);
    for (const { flavor } of [...instances.map((i) => i.size), ...holds.map((h) => h.size)]) {
      const specs = flavor.extraSpecs;
      if (!specs) continue;
      if (specs['hw:cpu_policy'] === 'dedicated') total.pinned += flavor.vcpus;
      else total.cpuUsage += flavor.vcpus;
      total.memoryMb += flavor.memoryMb;
      if (specs['hw:mem_page_size'] === '2048') total.pages2048 += flavor.memoryMb / 2;
    }
    return total;
  }

  used(nodeId: string): Amounts {
    const total = { ...reservedOf(this.node(nodeId).inventory) };
    total.memoryMb += this.orphanMemory(nodeId);
    const { instances, holds } = this.holdings(nodeId);
    for (const s of [...instances.map((i) => i.size), ...holds.map((h) => h.size)]) {
      const a = usage(s);
      for (const r of RES) total[r] += a[r];
    }
    return total;
  }

  /** The memory the agent's orphans hold: each once, never one the node tracks (the campaign's are never claimed). */
  orphanMemory(nodeId: string): number {
    return [...this.node(nodeId).orphans.values()].reduce((sum, mb) => sum + mb, 0);
  }

  /** Nova's stats counters from the instance records alone (holds carry no state), zeros left out. */
  stats(nodeId: string): Record<string, number> {
    const out: Record<string, number> = {};
    const bump = (k: string) => (out[k] = (out[k] ?? 0) + 1);
    for (const i of this.holdings(nodeId).instances) {
      bump('num_instances');
      bump(`num_vm_${i.state.vmState}`);
      bump(`num_task_${i.state.taskState ?? 'None'}`);
      bump(`num_os_type_${i.state.osType ?? 'None'}`);
      bump(`num_proj_${i.state.projectId ?? 'None'}`);
    }
    return out;
  }

  view(nodeId: string) {
    const n = this.node(nodeId);
    const used = this.used(nodeId);
    const { instances } = this.holdings(nodeId);
    const stats = this.stats(nodeId);
    // Nova adds counters: an instance building in an I/O-heavy task counts twice.
    const io =
      instances.filter((i) => i.state.vmState === 'building').length +
      instances.filter((i) => IO_TASKS.has(i.state.taskState ?? '')).length;
    return {
      vcpusUsed: used.vcpus,
      memoryMbUsed: used.memoryMb,
      localGbUsed: used.diskGb,
      freeRamMb: n.inventory.memoryMb - used.memoryMb,
      freeDiskGb: n.inventory.localGb - used.diskGb,
      runningVms: instances.length,
      currentWorkload: instances.filter((i) => i.state.taskState !== null).length,
      limits: limitsOf(n.inventory),
      stats: { ...stats, io_workload: io },
      pciDevicePools: this.pools(nodeId),
    };
  }

  /** A device can be taken: present and free; a PF with no VF held; a VF whose PF is not held. */
  claimable(nodeId: string, address: string, extraHeld: ReadonlySet<string> = new Set()): boolean {
    const devices = this.node(nodeId).devices;
    const d = devices.get(address);
    const held = (a: string) => (devices.get(a)?.holders.length ?? 0) > 0 || extraHeld.has(a);
    if (!d || d.removed || held(address)) return false;
    if (d.spec.deviceType === 'type-PF') {
      return ![...devices.values()].some((v) => v.spec.parentAddress === address && held(v.spec.address));
    }
    if (d.spec.deviceType === 'type-VF' && d.spec.parentAddress) return !held(d.spec.parentAddress);
    return true;
  }

  pools(nodeId: string) {
    const pools = new Map<
      string,
      {
        vendorId: string;
        productId: string;
        numaNode: number | null;
        deviceType: string;
        physicalNetwork?: string;
        count: number;
        free: number;
      }
    >();
    for (const d of this.node(nodeId).devices.values()) {
      if (d.removed) continue;
      const s = d.spec;
      const key = JSON.stringify([s.vendorId, s.productId, s.numaNode, s.deviceType, s.physicalNetwork ?? null]);
      const pool = pools.get(key) ?? {
        vendorId: s.vendorId,
        productId: s.productId,
        numaNode: s.numaNode,
        deviceType: s.deviceType,
        ...(s.physicalNetwork === undefined ? {} : { physicalNetwork: s.physicalNetwork }),
        count: 0,
        free: 0,
      };
      pools.set(key, pool);
      pool.count++;
      if (this.claimable(nodeId, s.address)) pool.free++;
    }
    return [...pools.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
  }

  // ---- the claim test ----------------------------------------------------------------------------

  /** The limits a claim is tested against: the node's, or the request's number, or none (null). */
  static effective(inv: Inventory, overrides: Partial<Record<Res, number | null>>): Record<Res, number | null> {
    const node = limitsOf(inv);
    const pick = (r: Res) => (overrides[r] === undefined ? node[r] : (overrides[r] ?? null));
    return { memoryMb: pick('memoryMb'), diskGb: pick('diskGb'), vcpus: pick('vcpus') };
  }

  static fits(limits: Record<Res, number | null>, used: Amounts, requested: Amounts): boolean {
    return RES.every((r) => limits[r] === null || requested[r] + used[r] <= (limits[r] as number));
  }

  static matches(d: DeviceSpec, entry: PciRequest['spec'][number]): boolean {
    if (d.deviceType === 'type-PF' && entry.deviceType !== 'type-PF') return false;
    return Object.entries(entry).every(
      ([k, v]) => v === undefined || (d as unknown as Record<string, unknown>)[k] === v,
    );
  }

  /**
   * Whether the requests could all be met from the node's devices if exactly `held` were held
   * (backtracking; the nodes of a campaign have a handful of devices).
   */
  canMeet(nodeId: string, requests: PciRequest[], held: ReadonlySet<string>): boolean {
    const slots = requests.flatMap((r) => Array.from({ length: r.count }, () => r.spec));
    const all = this.node(nodeId).devices;
    const devices = [...all.values()];
    const free = (a: string, taken: Set<string>) => {
      const d = all.get(a);
      if (!d || d.removed || taken.has(a)) return false;
      if (d.spec.deviceType === 'type-PF')
        return !devices.some((v) => v.spec.parentAddress === a && taken.has(v.spec.address));
      return !(d.spec.deviceType === 'type-VF' && d.spec.parentAddress && taken.has(d.spec.parentAddress));
    };
    const search = (k: number, taken: Set<string>): boolean => {
      const spec = slots[k];
      if (!spec) return true;
      for (const d of devices) {
        if (!free(d.spec.address, taken) || !spec.some((e) => LedgerModel.matches(d.spec, e))) continue;
        taken.add(d.spec.address);
        if (search(k + 1, taken)) return true;
        taken.delete(d.spec.address);
      }
      return false;
    };
    return search(0, new Set(held));
  }

  /** The addresses held on a node now. */
  held(nodeId: string): Set<string> {
    return new Set(
      [...this.node(nodeId).devices.values()].filter((d) => d.holders.length > 0).map((d) => d.spec.address),
    );
  }

  /**
   * Checks the devices a claim got: as many as asked, distinct, present, each matching its request in
   * order. Whether they were free is checked by `exclusive`, once the batch's answers are all in.
   */
  checkChosen(nodeId: string, requests: PciRequest[], chosen: string[]): void {
    const slots = requests.flatMap((r) => Array.from({ length: r.count }, () => r.spec));
    if (chosen.length !== slots.length)
      throw new ModelError(`claim on ${nodeId} got ${chosen.length} devices for ${slots.length} asked`);
    if (new Set(chosen).size !== chosen.length)
      throw new ModelError(`claim on ${nodeId} got one device twice: ${chosen.join(', ')}`);
    chosen.forEach((address, k) => {
      const d = this.node(nodeId).devices.get(address);
      if (!d || d.removed || !slots[k]?.some((e) => LedgerModel.matches(d.spec, e))) {
        throw new ModelError(`claim on ${nodeId} got ${address}, which is absent or does not match its request`);
      }
    });
  }

  private hold(nodeId: string, addresses: string[], holder: string): void {
    for (const a of addresses) {
      const d = this.node(nodeId).devices.get(a);
      if (!d) throw new ModelError(`model: ${a} is not on ${nodeId}`);
      if (d.holders.includes(holder)) continue;
      if (d.holders.length) this.overlaps.push({ node: nodeId, address: a, taker: holder, answeredAt: this.clock.end });
      d.holders.push(holder);
    }
  }

  private free(nodeId: string, addresses: string[], holder: string): void {
    const devices = this.node(nodeId).devices;
    for (const a of addresses) {
      const d = devices.get(a);
      if (!d || !d.holders.includes(holder)) continue;
      // Another claim got the device and was answered before this release was even sent: two held it at once.
      for (const o of this.overlaps) {
        if (o.node === nodeId && o.address === a && o.taker !== holder && o.answeredAt < this.clock.start) {
          this.violations.push(`device ${a} on ${nodeId} was given to ${o.taker} while ${holder} still held it`);
        }
      }
      d.holders = d.holders.filter((h) => h !== holder);
      if (d.removed && d.holders.length === 0) devices.delete(a);
    }
    // A removed PF is kept while one of its VFs is held, and goes with the last of them.
    for (const d of [...devices.values()]) {
      if (d.removed && d.holders.length === 0 && !this.busyIn(devices, d.spec.address)) devices.delete(d.spec.address);
    }
  }

  /**
   * After a batch: no device has two holders, no PF is held together with one of its VFs. Returns the
   * violations and forgets the batch's overlaps.
   */
  exclusive(): string[] {
    const out = [...this.violations];
    this.violations.length = 0;
    this.overlaps = [];
    for (const n of this.nodes.values()) {
      for (const d of n.devices.values()) {
        if (d.holders.length > 1) out.push(`device ${d.spec.address} on ${n.id} is held by ${d.holders.join(' and ')}`);
        const parent = d.spec.parentAddress ? n.devices.get(d.spec.parentAddress) : undefined;
        if (d.holders.length && parent?.holders.length && d.spec.deviceType === 'type-VF') {
          out.push(`VF ${d.spec.address} and its PF ${parent.spec.address} on ${n.id} are both held`);
        }
      }
    }
    return out;
  }

  // ---- operations: each applies one request that succeeded ---------------------------------------

  /** An agent's audit that reports orphans replaces the node's set; one listed twice counts once, the larger. */
  reportOrphans(id: string, orphans: { instanceUuid: string; memoryMb: number }[]): void {
    const set = new Map<string, number>();
    for (const o of orphans) set.set(o.instanceUuid, Math.max(set.get(o.instanceUuid) ?? 0, o.memoryMb));
    this.node(id).orphans = set;
  }

  putNode(id: string, inventory: Inventory, reported: DeviceSpec[]): void {
    const existing = this.nodes.get(id);
    const devices = existing?.devices ?? new Map<string, Device>();
    const seen = new Set(reported.map((s) => s.address));
    for (const spec of reported) {
      const d = devices.get(spec.address);
      // A held device keeps its description until released; a free one takes the new one.
      if (!d) devices.set(spec.address, { spec, holders: [], removed: false });
      else
        devices.set(spec.address, {
          spec: d.holders.length || this.busyIn(devices, spec.address) ? d.spec : spec,
          holders: d.holders,
          removed: false,
        });
    }
    for (const d of [...devices.values()]) {
      if (seen.has(d.spec.address)) continue;
      if (d.holders.length || this.busyIn(devices, d.spec.address)) d.removed = true;
      else devices.delete(d.spec.address);
    }
    this.nodes.set(id, { id, inventory, devices, orphans: existing?.orphans ?? new Map() });
  }

  /** A node deleted: the service refuses while it tracks anything; its devices and orphans go with it. */
  retire(id: string): void {
    const { instances, holds } = this.holdings(id);
    if (instances.length + holds.length) throw new ModelError(`model: ${id} retired while it tracks something`);
    this.nodes.delete(id);
  }

  private busyIn(devices: Map<string, Device>, pf: string): boolean {
    return [...devices.values()].some((v) => v.spec.parentAddress === pf && v.holders.length > 0);
  }

  claim(nodeId: string, uuid: string, size: Size, state: State): void {
    if (this.instances.has(uuid)) throw new ModelError(`model: ${uuid} claimed twice`);
    this.hold(nodeId, size.devices, uuid);
    this.instances.set(uuid, { uuid, nodeId, size, state, claimedOn: nodeId });
    this.released.delete(uuid);
  }

  /** Whether a claim of `uuid` on `nodeId` repeating its released claim's request is refused (rule O5). */
  repeatsRelease(uuid: string, nodeId: string): boolean {
    return this.released.get(uuid) === nodeId;
  }

  /** A state change; a releasing state releases (a move in progress is cancelled first). */
  change(uuid: string, change: Partial<State>): { released: boolean } {
    const i = this.instances.get(uuid);
    if (!i) throw new ModelError(`model: ${uuid} is not tracked`);
    const next = { ...i.state, ...change };
    if (releasing(next)) {
      this.release(uuid);
      return { released: true };
    }
    i.state = next;
    return { released: false };
  }

  release(uuid: string): void {
    const i = this.instances.get(uuid);
    if (!i) return;
    if (i.migrationId) this.status(i.migrationId, 'cancelled');
    const now = this.instances.get(uuid);
    if (!now) return;
    this.free(now.nodeId, now.size.devices, uuid);
    this.instances.delete(uuid);
    this.released.set(uuid, now.claimedOn);
  }

  moveClaim(m: Omit<Migration, 'status' | 'sequence' | 'holds' | 'old'>): void {
    const i = this.instances.get(m.uuid);
    if (!i || i.migrationId) throw new ModelError(`model: ${m.uuid} cannot move`);
    this.hold(m.dst, m.new.devices, m.uuid);
    this.migrations.set(m.id, {
      ...m,
      old: i.size,
      // A live migration's claim leaves it accepted (rule L1).
      status: m.moveType === 'live-migration' ? 'accepted' : 'pre-migrating',
      sequence: 0,
      holds: { old: false, new: true },
    });
    i.migrationId = m.id;
  }

  /** Whether a status change applies, is ignored or is refused, before looking at the holds. */
  decide(id: string, status: string, sequence?: number): Decision {
    const m = this.migrations.get(id);
    if (!m) throw new ModelError(`model: no migration ${id}`);
    if (!LIFECYCLE[m.moveType].has(status)) return 'invalid';
    if (sequence !== undefined && sequence <= m.sequence) return 'ignore';
    if (RANK[m.status] === 6) return 'ignore';
    if (
      (m.status === 'reverting' && (status === 'confirming' || status === 'confirmed')) ||
      (m.status === 'confirming' && (status === 'reverting' || status === 'reverted'))
    )
      return 'invalid';
    if ((RANK[status] ?? 0) <= (RANK[m.status] ?? 0)) return 'ignore';
    return 'apply';
  }

  /**
   * Applies a status (docs/moves.md, rule M7: who holds what). Returns what the service must answer: applied,
   * ignored, or refused (409) when the lifecycle lacks it or a hold it needs was dropped.
   */
  status(id: string, status: string, sequence?: number): Decision {
    const decision = this.decide(id, status, sequence);
    if (decision !== 'apply') return decision;
    const m = this.migrations.get(id) as Migration;
    const i = this.instances.get(m.uuid);
    const finishedPhase = (s: string) => RANK[s] === 4 || RANK[s] === 5;
    type Place = { node: string; what: 'instance' | 'old' | 'new'; size: 'old' | 'new' };
    const onSrc: Place = { node: m.src, what: 'instance', size: 'old' };
    const onDst: Place = { node: m.dst, what: 'instance', size: 'new' };
    let target: Place[];
    if (RANK[status] !== undefined && RANK[status] <= 3) target = [onSrc, { node: m.dst, what: 'new', size: 'new' }];
    else if (finishedPhase(status)) target = [{ node: m.src, what: 'old', size: 'old' }, onDst];
    else if (status === 'confirmed' || status === 'done' || status === 'completed') target = [onDst];
    else if (status === 'reverted') target = [onSrc];
    else target = [finishedPhase(m.status) ? onDst : onSrc];
    // Within a phase nothing changes hands, so only the status moves on, whatever holds were dropped.
    const phase = (s: string) => ((RANK[s] ?? 0) <= 3 ? 'claimed' : finishedPhase(s) ? 'finished' : 'final');
    if (phase(status) !== 'final' && phase(status) === phase(m.status)) {
      m.status = status;
      m.sequence = Math.max(m.sequence, sequence ?? 0);
      return 'apply';
    }
    const here = finishedPhase(m.status) ? onDst : onSrc;
    const current: Place[] = [];
    if (i && i.migrationId === id) current.push(here);
    if (m.holds.old) current.push({ node: m.src, what: 'old', size: 'old' });
    if (m.holds.new) current.push({ node: m.dst, what: 'new', size: 'new' });
    if (!i) target = target.filter((p) => p.what !== 'instance');
    const k = (p: Place) => `${p.node}|${p.what}|${p.size}`;
    const remove = current.filter((p) => !target.some((t) => k(t) === k(p)));
    const create = target.filter((t) => !current.some((p) => k(p) === k(t)));
    // No node may gain usage from a status change: what appears replaces something of the same size there.
    const net = new Map<string, Amounts>();
    for (const [places, sign] of [
      [remove, -1],
      [create, 1],
    ] as const) {
      for (const p of places) {
        const a = usage(m[p.size]);
        const n = net.get(p.node) ?? { memoryMb: 0, diskGb: 0, vcpus: 0 };
        for (const r of RES) n[r] += sign * a[r];
        net.set(p.node, n);
      }
    }
    if ([...net.values()].some((n) => RES.some((r) => n[r] > 0))) return 'invalid';

    // Devices of a side that goes for good are freed; a side that only trades places keeps them.
    const stays = new Set(create.map((p) => `${p.node}|${p.size}`));
    for (const p of remove) if (!stays.has(`${p.node}|${p.size}`)) this.free(p.node, m[p.size].devices, m.uuid);
    m.holds = { old: target.some((t) => t.what === 'old'), new: target.some((t) => t.what === 'new') };
    if (i) {
      const at = target.find((t) => t.what === 'instance');
      if (at) {
        i.nodeId = at.node;
        i.size = m[at.size];
      }
      if (RANK[status] === 6) delete i.migrationId;
    }
    m.status = status;
    m.sequence = Math.max(m.sequence, sequence ?? 0);
    return 'apply';
  }

  /** drop_move_claim: the hold goes, with its devices; the status stays. */
  dropHold(id: string, nodeId: string, role: 'old' | 'new'): void {
    const m = this.migrations.get(id);
    if (!m || !m.holds[role] || (role === 'old' ? m.src : m.dst) !== nodeId) return;
    m.holds[role] = false;
    const stillHeld = (role === 'old' ? m.new : m.old).devices;
    this.free(
      nodeId,
      m[role].devices.filter((a) => !stillHeld.includes(a)),
      m.uuid,
    );
  }
}

// The reference model of the whole ledger: sequential, in memory, written from the rules in docs/ and not
// from lib/. Usage is never stored here, only derived (reserved + what the instances and holds on a node
// take), so a model state cannot drift by construction. The campaign compares the service with it.
import { MoveModel } from './ledger-moves';
import { busyIn, matches, PciModel } from './ledger-pci';
import {
  limitsOf,
  ModelError,
  releasing,
  RES,
  reservedOf,
  usage,
  type Amounts,
  type Clock,
  type Decision,
  type Device,
  type DeviceSpec,
  type Instance,
  type Inventory,
  type Migration,
  type Node,
  type PciRequest,
  type Res,
  type Size,
  type State,
} from './ledger-types';

export * from './ledger-types';

const IO_TASKS = new Set([
  'resize_migrating',
  'rebuilding',
  'resize_prep',
  'image_snapshot',
  'image_backup',
  'rescuing',
  'unshelving',
]);

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
  private readonly pci = new PciModel(this);
  private readonly moves = new MoveModel(this.instances, this.migrations, this.pci);

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

  // ---- devices (ledger-pci.ts) -------------------------------------------------------------------

  get violations(): string[] {
    return this.pci.violations;
  }

  claimable(nodeId: string, address: string, extraHeld?: ReadonlySet<string>): boolean {
    return this.pci.claimable(nodeId, address, extraHeld);
  }

  pools(nodeId: string) {
    return this.pci.pools(nodeId);
  }

  canMeet(nodeId: string, requests: PciRequest[], held: ReadonlySet<string>): boolean {
    return this.pci.canMeet(nodeId, requests, held);
  }

  held(nodeId: string): Set<string> {
    return this.pci.held(nodeId);
  }

  checkChosen(nodeId: string, requests: PciRequest[], chosen: string[]): void {
    this.pci.checkChosen(nodeId, requests, chosen);
  }

  exclusive(): string[] {
    return this.pci.exclusive();
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

  static readonly matches = matches;

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
          spec: d.holders.length || busyIn(devices, spec.address) ? d.spec : spec,
          holders: d.holders,
          removed: false,
        });
    }
    for (const d of [...devices.values()]) {
      if (seen.has(d.spec.address)) continue;
      if (d.holders.length || busyIn(devices, d.spec.address)) d.removed = true;
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

  claim(nodeId: string, uuid: string, size: Size, state: State): void {
    if (this.instances.has(uuid)) throw new ModelError(`model: ${uuid} claimed twice`);
    this.pci.hold(nodeId, size.devices, uuid);
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
    this.pci.free(now.nodeId, now.size.devices, uuid);
    this.instances.delete(uuid);
    this.released.set(uuid, now.claimedOn);
  }

  // ---- moves (ledger-moves.ts) -------------------------------------------------------------------

  moveClaim(m: Omit<Migration, 'status' | 'sequence' | 'holds' | 'old'>): void {
    this.moves.moveClaim(m);
  }

  decide(id: string, status: string, sequence?: number): Decision {
    return this.moves.decide(id, status, sequence);
  }

  status(id: string, status: string, sequence?: number): Decision {
    return this.moves.status(id, status, sequence);
  }

  dropHold(id: string, nodeId: string, role: 'old' | 'new'): void {
    this.moves.dropHold(id, nodeId, role);
  }
}

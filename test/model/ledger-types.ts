// What the ledger's reference model speaks in: the node, device, instance and move records it keeps, and
// the amounts it derives from them. Nothing here comes from lib/: the model is an independent oracle.

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

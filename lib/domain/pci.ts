// PCI passthrough devices (docs/pci.md, without NUMA policies): what a device and a pool are, which
// devices a claim may take, and the pools the node reports. Choosing is pci-choice.ts, changing pci-changes.ts.

export const DEVICE_TYPES = ['type-PCI', 'type-PF', 'type-VF'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

/** A device as the hypervisor reports it. */
export interface PciDeviceSpec {
  address: string;
  vendorId: string;
  productId: string;
  numaNode: number | null;
  deviceType: DeviceType;
  parentAddress?: string;
  physicalNetwork?: string;
}

/** A device as the ledger tracks it. */
export interface PciDevice extends PciDeviceSpec {
  /** The instance holding it (allocated), if any. */
  owner?: string;
  /** Gone from the hypervisor's report while in use: kept until released, then deleted (rule P2). */
  removed?: boolean;
  /** For a PF: how many of its VFs are allocated. A PF with busy VFs cannot be claimed. */
  busyChildren: number;
  version: number;
}

export interface PciRequestSpec {
  count: number;
  spec: Partial<Record<string, string>>[];
}

export interface PciPool {
  vendorId: string;
  productId: string;
  numaNode: number | null;
  deviceType: DeviceType;
  physicalNetwork?: string;
  /** Devices in the pool. */
  count: number;
  /** Devices in the pool that a claim could take now. */
  free: number;
}

export type Devices = ReadonlyMap<string, PciDevice>;

export const byAddress = (devices: Iterable<PciDevice>): Map<string, PciDevice> =>
  new Map([...devices].map((d) => [d.address, d]));

/** Pools group devices by vendor, product, NUMA node, type and physical network. */
export function poolKey(d: PciDeviceSpec): string {
  return JSON.stringify([d.vendorId, d.productId, d.numaNode, d.deviceType, d.physicalNetwork ?? null]);
}

/**
 * Whether a claim may take the device (rule P2): it is free and present; a PF needs all its VFs free,
 * and a VF needs its parent PF not to be taken.
 */
export function claimable(d: PciDevice, devices: Devices): boolean {
  if (d.owner !== undefined || d.removed) return false;
  if (d.deviceType === 'type-PF') return d.busyChildren === 0;
  if (d.deviceType === 'type-VF' && d.parentAddress) return devices.get(d.parentAddress)?.owner === undefined;
  return true;
}

export function pools(devices: Devices): Map<string, PciPool> {
  const out = new Map<string, PciPool>();
  for (const d of devices.values()) {
    if (d.removed) continue;
    const key = poolKey(d);
    let pool = out.get(key);
    if (!pool) {
      pool = {
        vendorId: d.vendorId,
        productId: d.productId,
        numaNode: d.numaNode,
        deviceType: d.deviceType,
        count: 0,
        free: 0,
      };
      if (d.physicalNetwork !== undefined) pool.physicalNetwork = d.physicalNetwork;
      out.set(key, pool);
    }
    pool.count++;
    if (claimable(d, devices)) pool.free++;
  }
  return out;
}

const FIELDS: Record<string, (d: PciDevice) => string | undefined> = {
  vendorId: (d) => d.vendorId,
  productId: (d) => d.productId,
  deviceType: (d) => d.deviceType,
  physicalNetwork: (d) => d.physicalNetwork,
};

/** A spec entry matches a device whose fields equal every key it gives (rule P4). */
export function matches(d: PciDevice, spec: Partial<Record<string, string>>): boolean {
  return Object.entries(spec).every(([k, v]) => v === undefined || FIELDS[k]?.(d) === v);
}

// PCI passthrough devices (docs/pci.md, without NUMA policies): which devices a claim may take, what
// taking and freeing them changes, and the pools the node reports. Pure: the store writes the changes.

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

/**
 * Chooses devices for every request, all distinct: a request takes devices that match any one of its
 * spec entries; PFs only when the entry asks for type-PF (rule P4). Taking a PF makes its VFs
 * unavailable to the later requests of the same claim, and taking a VF its parent PF. Among equal
 * candidates the order is random, so that concurrent claims on one node seldom reach for the same
 * device; when a later request finds nothing, the search backs up and tries another device, so a claim
 * that can be met is met. Undefined if the requests cannot all be met.
 */
export function choose(
  devices: Devices,
  requests: PciRequestSpec[],
  random: () => number = Math.random,
): string[] | undefined {
  // Requests for PFs first: they are the most constrained (a PF excludes all of its VFs).
  const asksPf = (r: PciRequestSpec) => r.spec.some((s) => s.deviceType === 'type-PF');
  const ordered = requests
    .map((r, request) => ({ r, request }))
    .sort((a, b) => Number(asksPf(b.r)) - Number(asksPf(a.r)));
  // Within one request the order of its devices does not matter: picks never go back to a smaller kind.
  const slots = ordered.flatMap(({ r, request }) => Array.from({ length: r.count }, () => ({ spec: r.spec, request })));
  const fits = (d: PciDevice, spec: PciRequestSpec['spec'], taken: Devices) =>
    claimable(d, taken) &&
    spec.some((s) => matches(d, s) && (d.deviceType !== 'type-PF' || s.deviceType === 'type-PF'));
  // Bounds the search on large, nearly full nodes; a claim that needs more is refused as not met.
  let budget = 10_000;
  const search = (
    slot: number,
    taken: Map<string, PciDevice>,
    chosen: string[],
    floor: string,
  ): string[] | undefined => {
    const s = slots[slot];
    if (!s) return chosen;
    const spec = s.spec;
    const min = slot > 0 && slots[slot - 1]?.request === s.request ? floor : '';
    const candidates = [...taken.values()].filter((d) => fits(d, spec, taken));
    for (let i = candidates.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [candidates[i], candidates[j]] = [candidates[j] as PciDevice, candidates[i] as PciDevice];
    }
    // Devices alike (same pool and same parent) are interchangeable: trying one of each kind is enough.
    const kinds = new Set<string>();
    for (const pick of candidates) {
      const kind = pick.deviceType === 'type-PF' ? pick.address : `${poolKey(pick)}|${pick.parentAddress ?? ''}`;
      if (kinds.has(kind) || kind < min) continue;
      kinds.add(kind);
      if (--budget < 0) return undefined;
      const next = applyChanges(taken, allocate(taken, [pick.address], '(choosing)'));
      const found = search(slot + 1, next, [...chosen, pick.address], kind);
      if (found) return found;
    }
    return undefined;
  };
  const found = search(0, new Map(devices), [], '');
  // Answer in the order of the requests, as they were asked.
  return (
    found &&
    found
      .map((address, k) => ({ address, request: slots[k]?.request ?? 0 }))
      .sort((a, b) => a.request - b.request)
      .map((p) => p.address)
  );
}

export interface DeviceChange {
  address: string;
  /** The device as read: the write is conditioned on its version. Undefined for a new device. */
  before?: PciDevice;
  /** The device after the change; undefined deletes it. */
  after?: PciDevice;
  /**
   * Set when only a PF's count of busy VFs changes (a claim or release of its VFs). Claims of different
   * VFs of one PF must not exclude each other, so such a change is not conditioned on the PF's version:
   * only on what decides the PF's own pool, whether it has busy VFs at all (see busyCondition).
   */
  busy?: { delta: number; seen: number };
}

/**
 * What a change of a PF's busy count must find to keep the pools exact: the exact count when the PF's
 * claimability flips (0 busy before a claim, 0 after a release), else merely enough busy VFs that it
 * does not flip.
 */
export function busyCondition(busy: { delta: number; seen: number }): { exactly?: number; atLeast?: number } {
  const after = busy.seen + busy.delta;
  if (busy.seen === 0 || after === 0) return { exactly: busy.seen };
  return { atLeast: busy.delta > 0 ? 1 : 1 - busy.delta };
}

function merge(
  changes: Map<string, DeviceChange>,
  devices: Devices,
  address: string,
  edit: (d: PciDevice) => PciDevice | undefined,
) {
  const existing = changes.get(address);
  const current = existing ? existing.after : devices.get(address);
  if (!current) return;
  changes.set(address, { address, before: existing?.before ?? devices.get(address), after: edit(current) });
}

/** A VF's parent PF counts `delta` more busy VFs; a removed PF whose last VF is released goes. */
function bumpParent(changes: Map<string, DeviceChange>, devices: Devices, parent: string, delta: number) {
  const pf = devices.get(parent);
  if (!pf) return;
  const existing = changes.get(parent);
  const seen = pf.busyChildren;
  const total = (existing?.busy?.delta ?? 0) + delta;
  const busyChildren = Math.max(0, seen + total);
  const after = pf.removed && busyChildren === 0 ? undefined : { ...pf, busyChildren, version: pf.version + 1 };
  changes.set(parent, { address: parent, before: pf, after, busy: { delta: total, seen } });
}

/** Taking devices for `owner`: each becomes allocated; a VF's parent PF counts one more busy VF. */
export function allocate(devices: Devices, addresses: string[], owner: string): DeviceChange[] {
  const changes = new Map<string, DeviceChange>();
  for (const address of addresses) {
    merge(changes, devices, address, (d) => ({ ...d, owner, version: d.version + 1 }));
    const d = devices.get(address);
    if (d?.deviceType === 'type-VF' && d.parentAddress) bumpParent(changes, devices, d.parentAddress, 1);
  }
  return [...changes.values()];
}

/**
 * Giving back devices `owner` holds: each becomes free again, or is deleted if the hypervisor no longer
 * reports it; a VF's parent PF counts one busy VF less. Devices not held by `owner` are left alone.
 */
export function release(devices: Devices, addresses: string[], owner: string): DeviceChange[] {
  const changes = new Map<string, DeviceChange>();
  for (const address of addresses) {
    const d = devices.get(address);
    if (!d || d.owner !== owner) continue;
    merge(changes, devices, address, (x) => {
      if (x.removed) return undefined;
      const { owner: _owner, ...rest } = x;
      return { ...rest, version: x.version + 1 };
    });
    if (d.deviceType === 'type-VF' && d.parentAddress) bumpParent(changes, devices, d.parentAddress, -1);
  }
  return [...changes.values()];
}

/**
 * The hypervisor's new report (rule P2): new devices become available, devices that disappeared are
 * deleted if free and kept (marked removed) while in use, and a removed device that comes back is
 * present again. A free device whose description changed takes the new one.
 */
export function reconcile(devices: Devices, reported: PciDeviceSpec[]): DeviceChange[] {
  const changes: DeviceChange[] = [];
  const seen = new Set<string>();
  for (const spec of reported) {
    seen.add(spec.address);
    const d = devices.get(spec.address);
    if (!d) {
      const busyChildren = [...devices.values()].filter(
        (v) => v.parentAddress === spec.address && v.owner !== undefined,
      ).length;
      changes.push({ address: spec.address, after: { ...spec, busyChildren, version: 1 } });
      continue;
    }
    const same = poolKey(d) === poolKey(spec) && d.parentAddress === spec.parentAddress && !d.removed;
    if (same) continue;
    // A device in use keeps its description until it is released; a free one takes the new description.
    const { removed: _removed, ...present } = d;
    const after: PciDevice =
      d.owner === undefined && d.busyChildren === 0 ? { ...spec, busyChildren: 0, version: d.version } : present;
    changes.push({ address: d.address, before: d, after: { ...after, version: d.version + 1 } });
  }
  for (const d of devices.values()) {
    if (seen.has(d.address) || d.removed) continue;
    // A PF whose VFs are in use is in use too.
    const inUse = d.owner !== undefined || d.busyChildren > 0;
    changes.push({
      address: d.address,
      before: d,
      after: inUse ? { ...d, removed: true, version: d.version + 1 } : undefined,
    });
  }
  // A claim of a PF counts its VFs in the pools from what it read, conditioned on the PF alone: so every
  // VF that comes, goes or changes bumps its PF's version too, and such a claim reads again.
  const changed = new Set(changes.map((c) => c.address));
  for (const c of [...changes]) {
    for (const parent of [c.before?.parentAddress, c.after?.parentAddress]) {
      const pf = parent === undefined ? undefined : devices.get(parent);
      if (!pf || changed.has(pf.address)) continue;
      changed.add(pf.address);
      changes.push({ address: pf.address, before: pf, after: { ...pf, version: pf.version + 1 } });
    }
  }
  return changes;
}

export function applyChanges(devices: Devices, changes: DeviceChange[]): Map<string, PciDevice> {
  const out = new Map(devices);
  for (const c of changes) {
    if (c.after) out.set(c.address, c.after);
    else out.delete(c.address);
  }
  return out;
}

export interface PoolDelta {
  pool: Omit<PciPool, 'count' | 'free'>;
  count: number;
  free: number;
}

/**
 * How the pools change: only the pools whose devices changed, as deltas, so that concurrent changes to
 * other devices of the same pool add up instead of overwriting each other.
 */
export function poolDeltas(before: Devices, after: Devices): Map<string, PoolDelta> {
  const a = pools(before);
  const b = pools(after);
  const out = new Map<string, PoolDelta>();
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key);
    const y = b.get(key);
    const count = (y?.count ?? 0) - (x?.count ?? 0);
    const free = (y?.free ?? 0) - (x?.free ?? 0);
    if (count === 0 && free === 0) continue;
    const { count: _c, free: _f, ...pool } = (y ?? x) as PciPool;
    out.set(key, { pool, count, free });
  }
  return out;
}

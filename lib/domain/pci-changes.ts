// What taking, freeing and re-reporting PCI devices changes (docs/pci.md): the device changes a write
// makes and the pool deltas they add up to. Pure, like pci.ts, whose devices and pools they change.
import { poolKey, pools, type Devices, type PciDevice, type PciDeviceSpec, type PciPool } from './pci';

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

/**
 * Whether other writes of a PF's busy count still in flight (their deltas), committing first in any order,
 * can make busyCondition(busy) fail (rule P6): an exact count always can; an "at least" when the writes that
 * lower the count can bring it under.
 */
export function busyAtRisk(busy: { delta: number; seen: number }, inFlight: number[]): boolean {
  if (!inFlight.length) return false;
  const { exactly, atLeast = 0 } = busyCondition(busy);
  if (exactly !== undefined) return true;
  return busy.seen + inFlight.reduce((low, d) => low + Math.min(0, d), 0) < atLeast;
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
 * present again. A free device whose description changed takes the new one. A device new at its address
 * starts at `firstVersion` (the store's, rule P7).
 */
export function reconcile(devices: Devices, reported: PciDeviceSpec[], firstVersion = 1): DeviceChange[] {
  const changes: DeviceChange[] = [];
  const seen = new Set<string>();
  for (const spec of reported) {
    seen.add(spec.address);
    const d = devices.get(spec.address);
    if (!d) {
      const busyChildren = [...devices.values()].filter(
        (v) => v.parentAddress === spec.address && v.owner !== undefined,
      ).length;
      changes.push({ address: spec.address, after: { ...spec, busyChildren, version: firstVersion } });
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

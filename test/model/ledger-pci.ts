// The PCI part of the ledger's reference model (docs/pci.md): which devices a node can give, the pools it
// reports, whether requests can be met, and who holds what. It works on the model's own node records, so
// that the model stays one state; what concurrent claims prove wrong is gathered here until a batch ends.
import { ModelError, type Clock, type Device, type DeviceSpec, type Node, type PciRequest } from './ledger-types';

/** What the devices read of the model: its nodes, and the clock of the request being applied. */
export interface DeviceHost {
  readonly nodes: ReadonlyMap<string, Node>;
  readonly clock: Clock;
  node(id: string): Node;
}

export function matches(d: DeviceSpec, entry: PciRequest['spec'][number]): boolean {
  if (d.deviceType === 'type-PF' && entry.deviceType !== 'type-PF') return false;
  return Object.entries(entry).every(([k, v]) => v === undefined || (d as unknown as Record<string, unknown>)[k] === v);
}

export function busyIn(devices: Map<string, Device>, pf: string): boolean {
  return [...devices.values()].some((v) => v.spec.parentAddress === pf && v.holders.length > 0);
}

export class PciModel {
  /** What the model proved wrong in the service's answers: a device given out twice. */
  readonly violations: string[] = [];
  /** Devices given to a claim while the model still saw another holder, with when that claim was answered. */
  private overlaps: { node: string; address: string; taker: string; answeredAt: number }[] = [];

  constructor(private readonly model: DeviceHost) {}

  /** A device can be taken: present and free; a PF with no VF held; a VF whose PF is not held. */
  claimable(nodeId: string, address: string, extraHeld: ReadonlySet<string> = new Set()): boolean {
    const devices = this.model.node(nodeId).devices;
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
    for (const d of this.model.node(nodeId).devices.values()) {
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

  /**
   * Whether the requests could all be met from the node's devices if exactly `held` were held
   * (backtracking; the nodes of a campaign have a handful of devices).
   */
  canMeet(nodeId: string, requests: PciRequest[], held: ReadonlySet<string>): boolean {
    const slots = requests.flatMap((r) => Array.from({ length: r.count }, () => r.spec));
    const all = this.model.node(nodeId).devices;
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
        if (!free(d.spec.address, taken) || !spec.some((e) => matches(d.spec, e))) continue;
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
      [...this.model.node(nodeId).devices.values()].filter((d) => d.holders.length > 0).map((d) => d.spec.address),
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
      const d = this.model.node(nodeId).devices.get(address);
      if (!d || d.removed || !slots[k]?.some((e) => matches(d.spec, e))) {
        throw new ModelError(`claim on ${nodeId} got ${address}, which is absent or does not match its request`);
      }
    });
  }

  hold(nodeId: string, addresses: string[], holder: string): void {
    for (const a of addresses) {
      const d = this.model.node(nodeId).devices.get(a);
      if (!d) throw new ModelError(`model: ${a} is not on ${nodeId}`);
      if (d.holders.includes(holder)) continue;
      if (d.holders.length) {
        this.overlaps.push({ node: nodeId, address: a, taker: holder, answeredAt: this.model.clock.end });
      }
      d.holders.push(holder);
    }
  }

  free(nodeId: string, addresses: string[], holder: string): void {
    const devices = this.model.node(nodeId).devices;
    for (const a of addresses) {
      const d = devices.get(a);
      if (!d || !d.holders.includes(holder)) continue;
      // Another claim got the device and was answered before this release was even sent: two held it at once.
      for (const o of this.overlaps) {
        if (o.node === nodeId && o.address === a && o.taker !== holder && o.answeredAt < this.model.clock.start) {
          this.violations.push(`device ${a} on ${nodeId} was given to ${o.taker} while ${holder} still held it`);
        }
      }
      d.holders = d.holders.filter((h) => h !== holder);
      if (d.removed && d.holders.length === 0) devices.delete(a);
    }
    // A removed PF is kept while one of its VFs is held, and goes with the last of them.
    for (const d of [...devices.values()]) {
      if (d.removed && d.holders.length === 0 && !busyIn(devices, d.spec.address)) devices.delete(d.spec.address);
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
    for (const n of this.model.nodes.values()) {
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
}

// PCI affinity of a NUMA fit (rule F6): which devices each PCI request may take given the host cells the
// guest landed on, and a choice of devices that meets every request within them. Pure.
import type { PciRequest } from './claim';
import { byAddress, claimable, matches, type Devices, type PciDevice } from './pci';
import { choose } from './pci-choice';

export const PCI_NUMA_POLICIES = ['required', 'legacy', 'preferred', 'socket'] as const;
export type PciNumaPolicy = (typeof PCI_NUMA_POLICIES)[number];

/** A PCI request with its NUMA policy (rule R8; `legacy` when absent). */
export interface NumaPciRequest extends PciRequest {
  numaPolicy?: PciNumaPolicy;
}

/** Where a device sits relative to the chosen cells. */
type Place = 'on' | 'none' | 'other';
const placeOf = (d: PciDevice, cells: ReadonlySet<number>): Place =>
  d.numaNode === null ? 'none' : cells.has(d.numaNode) ? 'on' : 'other';

const fits = (d: PciDevice, r: PciRequest, devices: Devices) =>
  claimable(d, devices) &&
  r.spec.some((s) => matches(d, s) && (d.deviceType !== 'type-PF' || s.deviceType === 'type-PF'));

/**
 * The places a request may take devices from (rule F6, as Nova filters its pools): `required` the chosen
 * cells only; `legacy` those when they hold enough matching devices, else devices without a NUMA node
 * too; `preferred` as legacy, else any device. `socket` is `required`: no socket is reported (rule NU9).
 */
function placesFor(r: NumaPciRequest, devices: Devices, cells: ReadonlySet<number>): Place[] {
  const policy = r.numaPolicy ?? 'legacy';
  const count = (places: Place[]) =>
    [...devices.values()].filter((d) => places.includes(placeOf(d, cells)) && fits(d, r, devices)).length;
  if (policy === 'required' || policy === 'socket' || count(['on']) >= r.count) return ['on'];
  if (policy === 'legacy' || count(['on', 'none']) >= r.count) return ['on', 'none'];
  return ['on', 'none', 'other'];
}

/**
 * Devices meeting every request from the places its policy allows on `cells`, in the order of the
 * requests; undefined if they cannot all be met. The choice itself is pci-choice's search: the places are
 * folded into the vendor id, so that a request's spec entries match only devices in its places.
 */
export function pciOnCells(
  requests: NumaPciRequest[],
  devices: PciDevice[],
  cells: number[],
  random: () => number = Math.random,
): string[] | undefined {
  const all = byAddress(devices);
  const on = new Set(cells);
  const tagged = new Map([...all].map(([a, d]) => [a, { ...d, vendorId: `${d.vendorId}#${placeOf(d, on)}` }]));
  const vendors = [...new Set(devices.map((d) => d.vendorId))];
  const specs = requests.map((r) => {
    const places = placesFor(r, all, on);
    const spec = r.spec.flatMap((entry) =>
      (entry.vendorId === undefined ? vendors : [entry.vendorId]).flatMap((v) =>
        places.map((p) => ({ ...entry, vendorId: `${v}#${p}` })),
      ),
    );
    return { count: r.count, spec };
  });
  return choose(tagged, specs, random);
}

/** Free PCI devices per NUMA node, for the host-cell order (rule F2's third key). */
export function freeDevicesByNode(devices: PciDevice[]): Map<number, number> {
  const all = byAddress(devices);
  const out = new Map<number, number>();
  for (const d of all.values()) {
    if (d.numaNode !== null && claimable(d, all)) out.set(d.numaNode, (out.get(d.numaNode) ?? 0) + 1);
  }
  return out;
}

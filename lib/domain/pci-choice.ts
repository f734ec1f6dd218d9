// Which devices a claim takes (docs/pci.md, rule P4): a search over the node's devices that backs up
// rather than refuse a claim that can be met. Pure: the store conditions its write on what was chosen.
import { claimable, matches, poolKey, type Devices, type PciDevice, type PciRequestSpec } from './pci';
import { allocate, applyChanges } from './pci-changes';

/** A VF whose parent PF already has a busy VF: taking it flips no PF from free to in use. */
const busyParent = (d: PciDevice, devices: Devices) =>
  d.parentAddress !== undefined && (devices.get(d.parentAddress)?.busyChildren ?? 0) > 0;

/**
 * Chooses devices for every request, all distinct: a request takes devices that match any one of its
 * spec entries; PFs only when the entry asks for type-PF (rule P4). Taking a PF makes its VFs
 * unavailable to the later requests of the same claim, and taking a VF its parent PF. VFs of PFs
 * already in use are tried first; among equal candidates the order is random, so that concurrent
 * claims on one node seldom reach for the same device; when a later request finds nothing, the search
 * backs up and tries another device, so a claim that can be met is met. Undefined if the requests
 * cannot all be met.
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
    // VFs of a PF already in use first (rule P6): they leave the PF's claimability as it is, so concurrent
    // claims' conditions on that PF do not exclude each other. The sort is stable: random among equals.
    candidates.sort((a, b) => Number(busyParent(b, taken)) - Number(busyParent(a, taken)));
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

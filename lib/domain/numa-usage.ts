// What a fitted topology takes from (sign 1) or gives back to (sign -1) each host cell (rule U1), and the
// cells with such changes applied, for views and the audit (rule A1). Pure: the store turns the changes
// into conditioned updates of the cell items; a release subtracts exactly the stored topology.
import { refusalMessage } from './claim-test';
import { cores } from './numa-pinning';
import type { FittedTopology, HostCellInventory, HostTopology } from './numa-types';

/** One host cell's change. The figures are signed; `pin` is the set pinned (sign 1) or unpinned (sign -1). */
export interface NumaCellChange {
  cellId: number;
  sign: 1 | -1;
  /** Shared vCPUs only: pinned vCPUs never count here (rule U1). */
  cpuUsage: number;
  memoryUsageMb: number;
  /** Host CPUs, ascending: the pinning's, the emulator's, and under isolate their whole sibling sets. */
  pin: number[];
  /** Pages of one size; null when the cell has no page sizes (nor did the fit choose one). */
  pages: { sizeKb: number; count: number } | null;
}

const ascending = (xs: Iterable<number>) => [...new Set(xs)].sort((a, b) => a - b);

/** The smallest page size a cell has, which takes the memory of a guest cell that asked for none (rule U1). */
export const smallestPageKb = (cell: Pick<HostCellInventory, 'mempages'>): number | null =>
  cell.mempages.length === 0 ? null : Math.min(...cell.mempages.map((p) => p.sizeKb));

/**
 * The host CPUs a guest cell's pins occupy (rule U1): under isolate each one's whole sibling set goes with
 * it, so that no other guest's vCPU runs on a thread of the core. A CPU in no sibling set is its own core.
 */
export function occupied(
  cell: Pick<HostCellInventory, 'cpuset' | 'pcpuset' | 'siblings'>,
  cpus: number[],
  isolate: boolean,
): number[] {
  if (!isolate) return ascending(cpus);
  const out = new Set(cpus);
  for (const set of cores(cell)) if (set.some((c) => out.has(c))) set.forEach((c) => out.add(c));
  return ascending(out);
}

/**
 * The per-cell changes of one fitted topology (rule U1), one entry per host cell it touches, in the order
 * of its guest cells. A guest cell's pages are of the size the fit chose, else the host cell's smallest;
 * the page count is truncated as Nova truncates it. A host cell gone from the inventory still gives back
 * its memory, CPUs and pins, and its pages when the fit chose their size.
 */
export function numaUsage(host: HostCellInventory[], fitted: FittedTopology, sign: 1 | -1): NumaCellChange[] {
  const isolate = fitted.cpuThreadPolicy === 'isolate';
  const out = new Map<number, NumaCellChange>();
  for (const g of fitted.cells) {
    const cell = host.find((c) => c.id === g.id);
    const sizeKb = g.pagesizeKb ?? (cell ? smallestPageKb(cell) : null);
    const pins = [...Object.values(g.cpuPinning), ...g.cpusetReserved];
    const change = out.get(g.id) ?? { cellId: g.id, sign, cpuUsage: 0, memoryUsageMb: 0, pin: [], pages: null };
    change.cpuUsage += sign * g.cpuset.length;
    change.memoryUsageMb += sign * g.memoryMb;
    change.pin = ascending([
      ...change.pin,
      ...occupied(cell ?? { cpuset: [], pcpuset: [], siblings: [] }, pins, isolate),
    ]);
    if (sizeKb !== null) {
      const count = sign * Math.trunc((g.memoryMb * 1024) / sizeKb);
      // One guest cell per host cell in a fit; two on one cell with different sizes cannot be one change.
      if (change.pages !== null && change.pages.sizeKb !== sizeKb) throw new Error('two page sizes on one host cell');
      change.pages = { sizeKb, count: (change.pages?.count ?? 0) + count };
    }
    out.set(g.id, change);
  }
  return [...out.values()];
}

/**
 * The cells with the changes applied, for the node view and the audit's recount (rules U1, A1): usage
 * and pages used are clamped at 0 as Nova clamps them, pins are added or taken away as sets. It never
 * throws: a pin twice or outside the inventory is for the caller to report (see `pinProblems`).
 */
export function applyNumaUsage(topology: HostTopology, changes: NumaCellChange[]): HostTopology {
  return {
    cells: topology.cells.map((cell) => {
      const mine = changes.filter((c) => c.cellId === cell.id);
      if (mine.length === 0) return cell;
      const pinned = new Set(cell.pinnedCpus);
      const pagesUsed = { ...cell.pagesUsed };
      let cpuUsage = cell.cpuUsage;
      let memoryUsageMb = cell.memoryUsageMb;
      for (const c of mine) {
        cpuUsage += c.cpuUsage;
        memoryUsageMb += c.memoryUsageMb;
        for (const cpu of c.pin) {
          if (c.sign === 1) pinned.add(cpu);
          else pinned.delete(cpu);
        }
        if (c.pages) {
          const key = String(c.pages.sizeKb);
          pagesUsed[key] = Math.max(0, (pagesUsed[key] ?? 0) + c.pages.count);
        }
      }
      return {
        ...cell,
        cpuUsage: Math.max(0, cpuUsage),
        memoryUsageMb: Math.max(0, memoryUsageMb),
        pinnedCpus: ascending(pinned),
        pagesUsed,
      };
    }),
  };
}

/** What is wrong with a change of `cell`'s pins (U1's pin errors): invalid = pinned already (or, unpinning, not pinned); unknown = not the cell's. */
export function pinProblems(
  cell: Pick<HostCellInventory, 'pcpuset'> & { pinnedCpus: number[] },
  change: Pick<NumaCellChange, 'pin' | 'sign'>,
): { invalid: number[]; unknown: number[] } {
  const known = new Set(cell.pcpuset);
  const pinned = new Set(cell.pinnedCpus);
  return {
    invalid: change.pin.filter((c) => (change.sign === 1 ? pinned.has(c) : !pinned.has(c))),
    unknown: change.pin.filter((c) => !known.has(c)),
  };
}

/** The NUMA refusal's reasons (§8 of Nova's texts, our rule C7's order): after any scalar reasons. */
export const NUMA_REASON = 'Requested instance NUMA topology cannot fit the given host NUMA topology';
export const NUMA_PCI_REASON =
  'Requested instance NUMA topology together with requested PCI devices cannot fit the given host NUMA topology';

/**
 * The reasons a NUMA refusal gives: `pci` when the instance has PCI requests, `pciShort` when, besides, the
 * devices cannot be met at all (`Claim pci failed`).
 */
export function numaReasons({ pci = false, pciShort = false }: { pci?: boolean; pciShort?: boolean } = {}): string[] {
  return pciShort ? [NUMA_PCI_REASON, 'Claim pci failed'] : [pci ? NUMA_PCI_REASON : NUMA_REASON];
}

/** The whole refusal message of a claim refused for NUMA alone. */
export const numaRefusal = (flags: { pci?: boolean; pciShort?: boolean } = {}): string =>
  refusalMessage(numaReasons(flags));

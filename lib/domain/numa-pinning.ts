// Pinning a guest cell's dedicated vCPUs onto one host cell's free pCPUs (rule F5), with the thread
// policies and the emulator threads' reserved pCPU (rule R6). Pure.
import type { CpuThreadPolicy, HostCell } from './numa-types';

export interface Pinning {
  /** Guest vCPU (as a decimal string) → host CPU. */
  cpuPinning: Record<string, number>;
  /** Host CPUs reserved for the emulator threads. */
  reserved: number[];
}

const ascending = (xs: Iterable<number>) => [...new Set(xs)].sort((a, b) => a - b);

/**
 * The cell's cores as sets of threads (rule H1), within its CPUs, in the order reported; a pCPU in no
 * sibling set is a core of its own (rule NU7), after the reported ones.
 */
export function cores(cell: Pick<HostCell, 'cpuset' | 'pcpuset' | 'siblings'>): number[][] {
  const cpus = new Set([...cell.cpuset, ...cell.pcpuset]);
  const sets = cell.siblings.map((s) => ascending(s.filter((c) => cpus.has(c)))).filter((s) => s.length > 0);
  const covered = new Set(sets.flat());
  return [...sets, ...ascending(cell.pcpuset.filter((c) => !covered.has(c))).map((c) => [c])];
}

/** The cores from the `by`-th on, then the ones before it (rule NU10). */
function rotate(coreSets: number[][], by: number): number[][] {
  const k = coreSets.length ? by % coreSets.length : 0;
  return k === 0 ? coreSets : [...coreSets.slice(k), ...coreSets.slice(0, k)];
}

/** Threads per core (rule H3): the largest core, or 1. */
export const threadsPerCore = (coreSets: number[][]): number => Math.max(1, ...coreSets.map((s) => s.length));

/** Pins with `t` threads of each set, in order, onto the sorted vCPUs; null if they do not hold them all. */
function pinWith(t: number, sets: number[][], vcpus: number[]): [number, number][] | null {
  if (t * sets.length < vcpus.length) return null;
  const usable = sets.flatMap((s) => s.slice(0, t));
  return vcpus.map((v, i) => [v, usable[i] as number]);
}

/**
 * The first `count` free threads left once the pinned ones are taken out of `sets` (under isolate their
 * whole sets); null when there are fewer. No reservation asked: an empty list.
 */
function reserve(sets: number[][], pins: [number, number][], count: number, isolate: boolean): number[] | null {
  if (count === 0) return [];
  const taken = new Set(pins.map(([, p]) => p));
  const left = sets.flatMap((s) => (isolate && s.some((c) => taken.has(c)) ? [] : s.filter((c) => !taken.has(c))));
  return left.length >= count ? left.slice(0, count) : null;
}

const result = (pins: [number, number][], reserved: number[]): Pinning => ({
  cpuPinning: Object.fromEntries(pins.map(([v, p]) => [String(v), p])),
  reserved,
});

/**
 * Rule F5. `vcpus` are the guest cell's dedicated vCPUs; `reserved` is 1 for the cell that takes the
 * emulator threads, else 0; `spread` starts the cores elsewhere than Nova's first (rule NU10). Null when
 * the policy cannot be met on this cell.
 */
export function packOntoCores(
  cell: HostCell,
  vcpus: number[],
  policy: CpuThreadPolicy | undefined,
  reservedCount: number,
  spread = 0,
): Pinning | null {
  const sorted = ascending(vcpus);
  const pinned = new Set(cell.pinnedCpus);
  const free = new Set(cell.pcpuset.filter((c) => !pinned.has(c)));
  const all = rotate(cores(cell), spread);
  const tpc = threadsPerCore(all);
  const freeSets = all.map((s) => s.filter((c) => free.has(c)));
  const withAtLeast = (t: number) => freeSets.filter((s) => s.length >= t);
  if (policy === 'isolate') {
    if (withAtLeast(tpc).length === 0) return null;
    // Nova's guard for bug #1889633: on an SMT host with separate shared and dedicated sets, isolate cannot be
    // emulated by pinning one thread and keeping its siblings idle.
    const legacy = ascending(cell.pcpuset).join() === ascending(cell.cpuset).join();
    if (tpc > 1 && !legacy) return null;
    const pins = pinWith(1, withAtLeast(tpc), sorted);
    // Only whole free cores, as the reserved thread's siblings are pinned with it (rule NU7).
    const whole = freeSets.filter((s, i) => s.length > 0 && s.length === all[i]?.length);
    const reserved = pins && reserve(whole, pins, reservedCount, true);
    return pins && reserved ? result(pins, reserved) : null;
  }
  if (policy === 'require' && tpc <= 1) return null;
  // The most threads per core first, to keep the guest's vCPUs on as few cores as possible.
  for (let t = Math.max(0, ...freeSets.map((s) => s.length)); t >= 1; t--) {
    if (policy === 'require' && t <= 1) break;
    const pins = pinWith(t, withAtLeast(t), sorted);
    const reserved = pins && reserve(withAtLeast(1), pins, reservedCount, false);
    if (pins && reserved) return result(pins, reserved);
  }
  if (policy === 'require') return null;
  // prefer's fallback: every free thread on its own, in order.
  const singles = withAtLeast(1)
    .flat()
    .map((c) => [c]);
  const pins = pinWith(1, singles, sorted);
  const reserved = pins && reserve(singles, pins, reservedCount, false);
  return pins && reserved ? result(pins, reserved) : null;
}

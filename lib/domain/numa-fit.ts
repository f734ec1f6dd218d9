// The NUMA fit (rules F1–F6): which host cell takes each guest cell, with its page size, pinning and the
// emulator threads' pCPU, as Nova's numa_fit_instance_to_host decides it, less its defects (NU1–NU3).
// And the conditions under which the store may write the result (fitConditions). Pure: inputs are never
// changed; a fit from a stale view can only fail the store's conditions, never overfill a cell.
import type { PciDevice } from './pci';
import { memoryFit, pagesFor } from './numa-pages';
import { freeDevicesByNode, pciOnCells, type NumaPciRequest } from './numa-pci';
import { packOntoCores } from './numa-pinning';
import type {
  CpuPolicy,
  FittedCell,
  FittedTopology,
  GuestCellRequest,
  HostCell,
  HostTopology,
  NumaLimits,
  NumaRequest,
} from './numa-types';
import { numaUsage, smallestPageKb } from './numa-usage';

export interface FitOptions {
  /** Ratios for the shared test (rule F4e); null switches it off. */
  limits: NumaLimits | null;
  strategy?: 'spread' | 'pack';
  /**
   * The claim's PCI requests and the node's devices (only the free ones are used). Given with no requests,
   * it orders cells with devices last, as Nova's scheduler does; its claim passes it only with requests.
   */
  pci?: { requests: NumaPciRequest[]; devices: PciDevice[] };
  /** For the device choice among equals (pci-choice); Math.random by default. */
  random?: () => number;
  /**
   * Rule NU10: after a lost race, the claim starts its choice of cores this many cores on (0, Nova's order,
   * otherwise), so that claims racing for one cell spread over its free cores instead of all choosing alike.
   */
  spread?: number;
}

/**
 * Steps one fit may take before it gives up as no fit (rule NU8): a pair looked up costs 1, a PCI check of
 * the chosen cells (a device search of its own) 100. A node of 8 cells meets a guest of 8 well within it.
 */
export const SEARCH_BUDGET = 1_000_000;
const PCI_CHECK_COST = 100;

const pinnedPolicy = (r: NumaRequest) => r.cpuPolicy === 'dedicated' || r.cpuPolicy === 'mixed';
const freePcpus = (c: HostCell) => c.pcpuset.filter((p) => !c.pinnedCpus.includes(p)).length;

/**
 * Rule F2: the host cells in the order they are tried. Kept as reported unless the node has more cells
 * than the guest; then three stable sorts, so the last is the primary key.
 */
export function orderCells(host: HostTopology, request: NumaRequest, options: FitOptions): HostCell[] {
  const cells = [...host.cells];
  if (cells.length <= request.cells.length) return cells;
  const dir = options.strategy === 'pack' ? -1 : 1;
  const by = (key: (c: HostCell) => number, sign: number) => cells.sort((a, b) => sign * (key(a) - key(b)));
  by((c) => c.memoryMb - c.memoryUsageMb, -dir);
  if (pinnedPolicy(request)) by(freePcpus, -dir);
  else by((c) => c.cpuUsage, dir);
  if (options.pci) {
    const free = freeDevicesByNode(options.pci.devices);
    by((c) => free.get(c.id) ?? 0, options.pci.requests.length > 0 ? -1 : 1);
  }
  return cells;
}

/**
 * Rule F4: guest cell `g` on host cell `h`, `reserved` pCPUs for the emulator threads. The fitted cell,
 * or null at the first test that fails.
 */
export function fitPair(
  h: HostCell,
  g: GuestCellRequest,
  request: NumaRequest,
  limits: NumaLimits | null,
  reserved: number,
  spread = 0,
): FittedCell | null {
  const pinned = pinnedPolicy(request);
  const pagesizeKb = memoryFit(h, g.memoryMb, g.pagesize, pinned);
  if (pagesizeKb === false) return null;
  if (pinned && g.pcpuset.length + reserved > h.pcpuset.length) return null;
  if (g.cpuset.length > h.cpuset.length) return null;
  let pinning = { cpuPinning: {} as Record<string, number>, reserved: [] as number[] };
  if (pinned) {
    if (g.pcpuset.length + reserved > freePcpus(h)) return null;
    if (g.memoryMb > h.memoryMb - h.memoryUsageMb) return null;
    // A mixed guest's cell may have no dedicated vCPUs (and no emulator CPU): nothing to pin there.
    const packed =
      g.pcpuset.length + reserved > 0
        ? packOntoCores(h, g.pcpuset, request.cpuThreadPolicy, reserved, spread)
        : pinning;
    if (!packed) return null;
    pinning = packed;
  }
  if (request.cpuPolicy !== 'dedicated' && limits !== null) {
    if (h.cpuUsage + g.cpuset.length > h.cpuset.length * limits.cpuAllocationRatio) return null;
    if (h.memoryUsageMb + g.memoryMb > h.memoryMb * limits.ramAllocationRatio) return null;
  }
  return {
    id: h.id,
    memoryMb: g.memoryMb,
    pagesizeKb,
    cpuset: [...g.cpuset],
    pcpuset: [...g.pcpuset],
    cpuPinning: pinning.cpuPinning,
    cpusetReserved: pinning.reserved,
  };
}

/**
 * Rules F1–F6. The first permutation of the ordered host cells (F2), in lexicographic order, on which
 * every guest cell fits (F4) and the PCI requests can be met (F6); null if none (or past the budget, NU8).
 * Pair results are remembered by host and guest index, never by a cell id that changes (rule NU1), and a
 * permutation is not followed further once a guest cell still to place fits none of the cells left: both
give the first answer of the whole search, sooner.
 */
export function fitNumaTopology(host: HostTopology, request: NumaRequest, options: FitOptions): FittedTopology | null {
  const k = request.cells.length;
  if (k === 0 || host.cells.length < k) return null;
  const order = orderCells(host, request, options);
  const isolateEmulator = request.emulatorThreadsPolicy === 'isolate';
  const memo = new Map<number, FittedCell | null>();
  let budget = SEARCH_BUDGET;
  const pair = (hostIndex: number, guestIndex: number) => {
    const key = hostIndex * k + guestIndex;
    budget--;
    if (!memo.has(key)) {
      const g = request.cells[guestIndex] as GuestCellRequest;
      const reserved = isolateEmulator && guestIndex === 0 ? 1 : 0;
      memo.set(key, fitPair(order[hostIndex] as HostCell, g, request, options.limits, reserved, options.spread));
    }
    return memo.get(key) ?? null;
  };
  const pci = options.pci && options.pci.requests.length > 0 ? options.pci : undefined;
  const pciFailed = new Set<string>();
  const used = new Set<number>();
  const chosen: FittedCell[] = [];
  // Every guest cell still to place has a free host cell it fits on; else no permutation from here does.
  const feasible = () =>
    range(chosen.length, k).every((g) => order.some((_, i) => !used.has(i) && pair(i, g) !== null));
  const search = (): FittedTopology | null => {
    if (budget <= 0) return null;
    if (chosen.length === k) {
      if (!pci) return topology(chosen, request);
      // Which devices may serve depends on the set of chosen cells only, not on their order.
      const cells = chosen.map((c) => c.id);
      const set = [...cells].sort((a, b) => a - b).join();
      if (pciFailed.has(set)) return null;
      budget -= PCI_CHECK_COST;
      const devices = pciOnCells(pci.requests, pci.devices, cells, options.random);
      if (!devices) pciFailed.add(set);
      return devices ? { ...topology(chosen, request), pciDevices: devices } : null;
    }
    for (let i = 0; i < order.length; i++) {
      if (used.has(i)) continue;
      const fitted = pair(i, chosen.length);
      if (!fitted) continue;
      used.add(i);
      chosen.push(fitted);
      const found = feasible() ? search() : null;
      chosen.pop();
      used.delete(i);
      if (found || budget <= 0) return found;
    }
    return null;
  };
  return feasible() ? search() : null;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function topology(cells: FittedCell[], request: NumaRequest): FittedTopology {
  const out: FittedTopology = { cells: cells.map((c) => ({ ...c })) };
  if (request.cpuPolicy !== undefined) out.cpuPolicy = request.cpuPolicy;
  if (request.cpuThreadPolicy !== undefined) out.cpuThreadPolicy = request.cpuThreadPolicy;
  if (request.emulatorThreadsPolicy !== undefined) out.emulatorThreadsPolicy = request.emulatorThreadsPolicy;
  return out;
}

/**
 * A stored topology as a request again, for a claim that must land where it was before with what it had
 * (an unshelve keeps its concrete page size, as in Nova): the guest cells in order, renumbered.
 */
export function requestFromFitted(fitted: FittedTopology): NumaRequest {
  const request: NumaRequest = {
    cells: fitted.cells.map((c, id) => {
      const cell: GuestCellRequest = { id, cpuset: [...c.cpuset], pcpuset: [...c.pcpuset], memoryMb: c.memoryMb };
      if (c.pagesizeKb !== null) cell.pagesize = c.pagesizeKb;
      return cell;
    }),
  };
  const policy = policyOf(fitted);
  if (policy !== undefined) request.cpuPolicy = policy;
  if (fitted.cpuThreadPolicy !== undefined) request.cpuThreadPolicy = fitted.cpuThreadPolicy;
  if (fitted.emulatorThreadsPolicy !== undefined) request.emulatorThreadsPolicy = fitted.emulatorThreadsPolicy;
  return request;
}

/**
 * What must still hold of one host cell when the store writes a fit (issue 14, one transaction). Plain
 * thresholds on stored figures, as conditions cannot add: each null means no such test.
 * - `free`: host CPUs that must not be pinned (the pinning, the emulator's, their siblings under isolate);
 * - `memoryUsageAtMost`: the cell's memoryUsageMb must be ≤ it (pinned: memory − asked, never
 *   overcommitted; shared with limits: ⌊memory × ram ratio⌋ − asked; the smaller when both apply);
 * - `cpuUsageAtMost`: the cell's cpuUsage must be ≤ ⌊|cpuset| × cpu ratio⌋ − shared vCPUs (limits only);
 * - `pagesUsedAtMost`: the pages used of `sizeKb` must be ≤ total − reserved − taken (an explicit page
 *   size, or a pinned cell's smallest size: rule NU3); shared cells without a size may overcommit pages.
 */
export interface NumaCellCondition {
  cellId: number;
  free: number[];
  memoryUsageAtMost: number | null;
  cpuUsageAtMost: number | null;
  pagesUsedAtMost: { sizeKb: number; value: number } | null;
}

/** A stored topology without its policy: dedicated if no cell has shared vCPUs, mixed if some have both. */
function policyOf(fitted: FittedTopology): CpuPolicy | undefined {
  if (fitted.cpuPolicy !== undefined) return fitted.cpuPolicy;
  const shared = fitted.cells.some((c) => c.cpuset.length > 0);
  const pinned = fitted.cells.some((c) => c.pcpuset.length > 0);
  return pinned ? (shared ? 'mixed' : 'dedicated') : undefined;
}

/** The conditions of a fitted topology on the host it was fitted on, one per touched cell (rule F4 as stored figures). */
export function fitConditions(
  host: HostTopology,
  fitted: FittedTopology,
  limits: NumaLimits | null,
): NumaCellCondition[] {
  const changes = numaUsage(host.cells, fitted, 1);
  const policy = policyOf(fitted);
  const pinned = policy === 'dedicated' || policy === 'mixed';
  const ratios = policy === 'dedicated' ? null : limits;
  return fitted.cells.map((g) => {
    const h = host.cells.find((c) => c.id === g.id);
    if (!h) throw new Error(`fitted cell ${g.id} is not a cell of the host`);
    const memory = [
      pinned ? h.memoryMb - g.memoryMb : Infinity,
      ratios ? Math.floor(h.memoryMb * ratios.ramAllocationRatio) - g.memoryMb : Infinity,
    ];
    const sizeKb = g.pagesizeKb ?? (pinned ? smallestPageKb(h) : null);
    const pool = h.mempages.find((p) => p.sizeKb === sizeKb);
    const pages = sizeKb === null ? null : pagesFor(g.memoryMb, sizeKb);
    return {
      cellId: g.id,
      free: changes.find((c) => c.cellId === g.id)?.pin ?? [],
      memoryUsageAtMost: Math.min(...memory) === Infinity ? null : Math.min(...memory),
      cpuUsageAtMost: ratios ? Math.floor(h.cpuset.length * ratios.cpuAllocationRatio) - g.cpuset.length : null,
      pagesUsedAtMost:
        pool && pages !== null ? { sizeKb: pool.sizeKb, value: pool.total - pool.reserved - pages } : null,
    };
  });
}

/** Whether the host's current figures meet the conditions: what the store's write checks, for tests and views. */
export function meetsConditions(host: HostTopology, conditions: NumaCellCondition[]): boolean {
  return conditions.every((c) => {
    const h = host.cells.find((x) => x.id === c.cellId);
    if (!h) return false;
    const pages = c.pagesUsedAtMost;
    return (
      c.free.every((p) => !h.pinnedCpus.includes(p)) &&
      (c.memoryUsageAtMost === null || h.memoryUsageMb <= c.memoryUsageAtMost) &&
      (c.cpuUsageAtMost === null || h.cpuUsage <= c.cpuUsageAtMost) &&
      (pages === null || (h.pagesUsed[String(pages.sizeKb)] ?? 0) <= pages.value)
    );
  });
}

/**
 * What a claim does about NUMA, as one typed decision: no request (rule R1), a node without a topology
 * (rule H5, kept as NU6: the request is dropped and nothing is accounted per cell), a fit, or a refusal.
 */
export type NumaDecision =
  { kind: 'none' } | { kind: 'ignored' } | { kind: 'fitted'; topology: FittedTopology } | { kind: 'refused' };

export function decideNuma(
  host: HostTopology | null | undefined,
  request: NumaRequest | null,
  options: FitOptions,
): NumaDecision {
  if (request === null) return { kind: 'none' };
  if (!host) return { kind: 'ignored' };
  const topology = fitNumaTopology(host, request, options);
  return topology ? { kind: 'fitted', topology } : { kind: 'refused' };
}

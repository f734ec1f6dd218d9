// Request checks and parsers shared by the two forms of a NUMA request (numa-request.ts): Nova's texts of
// rule R9, its CPU-list and page-size syntax, and its checks of manually assigned cells. Pure.
import { ValidationError } from '../errors';
import type { CpuPolicy, CpuThreadPolicy, EmulatorThreadsPolicy, PageSizeRequest } from './numa-types';

/** Nova's request errors (rule R9), character for character. */
export const R9 = {
  threadPolicyWithoutDedicated: 'Cannot set cpu thread pinning policy in a non dedicated cpu pinning policy',
  emulatorIsolateWithoutDedicated: 'An isolated CPU emulator threads option requires a dedicated CPU policy option.',
  asymmetric:
    'Instance CPUs and/or memory cannot be evenly distributed across instance NUMA nodes. Explicit assignment of CPUs and memory to nodes is required',
  incomplete: 'CPU and memory allocation must be provided for all NUMA nodes',
  cpuOutOfRange: (cpunum: number, cpumax: number) => `CPU number ${cpunum} is larger than max ${cpumax}`,
  cpuDuplicates: (cpunum: number) => `CPU number ${cpunum} is assigned to two nodes`,
  /** Nova formats the set with Python's str(): `{2, 3}`. */
  cpusUnassigned: (cpus: number[]) => `CPU number {${cpus.join(', ')}} is not assigned to any node`,
  memoryOutOfRange: (memsize: number, memtotal: number) =>
    `${memsize} MB of memory assigned, but expected ${memtotal} MB`,
  invalidNodes: (nodes: string) => `The property 'numa_nodes' cannot be '${nodes}'. It must be a number greater than 0`,
  pageSizeInvalid: (pagesize: string) => `Invalid memory page size '${pagesize}'`,
  pageSizeForbidden: (pagesize: string, against: string) => `Page size ${pagesize} forbidden against '${against}'`,
  maskWithoutMixed: "Cannot specify 'hw:cpu_dedicated_mask' without the 'mixed' policy.",
  mixedMask: "Mixed instance must have at least 1 pinned vCPU and 1 unpinned vCPU. See 'hw:cpu_dedicated_mask'.",
  // Nova's too, outside R9's list: the image may not loosen what the flavor set (rule R4, R5, R2).
  imageCpuPolicy:
    "Image property 'hw_cpu_policy' is not permitted to override CPU pinning policy set against the flavor",
  imageThreadPolicy:
    "Image property 'hw_cpu_thread_policy' is not permitted to override CPU thread pinning policy set against the flavor",
  imageNuma: (name: string) =>
    `Image property '${name}' is not permitted to override NUMA configuration set against the flavor`,
} as const;

export const fail = (message: string, path = 'flavor.extraSpecs'): never => {
  throw new ValidationError(message, [{ path, message }]);
};

/** Nova's parse_cpu_spec: `0-3,^2,5`; exclusions apply after all inclusions. */
export function parseCpuSpec(spec: string, key: string): number[] {
  const take = new Set<number>();
  const drop = new Set<number>();
  const int = (s: string, rule: string, kind: string) =>
    /^\s*\d+\s*$/.test(s) ? Number(s) : fail(`Invalid ${kind} expression '${rule}' in ${key}`);
  for (const raw of spec.split(',')) {
    const rule = raw.trim();
    if (rule === '') continue;
    const reject = rule.startsWith('^');
    const body = reject ? rule.slice(1) : rule;
    const dash = body.indexOf('-');
    const into = reject ? drop : take;
    if (dash < 0) {
      into.add(int(body, rule, reject ? 'exclusion' : 'inclusion'));
      continue;
    }
    const start = int(body.slice(0, dash), rule, 'range');
    const end = int(body.slice(dash + 1), rule, 'range');
    if (start > end) fail(`Invalid range expression '${rule}' in ${key}`);
    // No guest has 65536 vCPUs: a longer range already holds an id out of range, and is not walked to its end.
    for (let c = start; c <= end && c - start < 65536; c++) into.add(c);
  }
  return [...take].filter((c) => !drop.has(c)).sort((a, b) => a - b);
}

/**
 * `hw:mem_page_size` (rule R7): a keyword, an integer of KiB, or a size with a unit read as oslo's
 * string_to_bytes reads it (IEC: `2MB` and `2MiB` are both 2048 KiB, a lowercase `b` means bits).
 */
export function parsePageSize(value: string): PageSizeRequest {
  if (value === 'small' || value === 'large' || value === 'any') return value;
  if (/^\d+$/.test(value) && Number(value) > 0) return Number(value);
  const m = /^([+]?\d*\.?\d+)([KMGT]i?)?(b|bit|B)$/.exec(value);
  const power = { K: 1, M: 2, G: 3, T: 4 }[(m?.[2] ?? '')[0] ?? ''] ?? 0;
  const bytes = m ? Math.ceil((Number(m[1]) * 1024 ** power) / (m[3] === 'B' ? 1 : 8)) : NaN;
  const kib = bytes / 1024;
  return Number.isInteger(kib) && kib > 0 ? kib : fail(R9.pageSizeInvalid(value));
}

/** Nova's checks of manually assigned cells (rule R9): every vCPU once, the memory summed to the flavor's. */
export function checkedCells(cpus: number[][], memory: number[], input: { vcpus: number; memoryMb: number }): number[] {
  const seen = new Set<number>();
  for (const set of cpus) {
    for (const c of set) {
      if (c > input.vcpus - 1) fail(R9.cpuOutOfRange(c, input.vcpus - 1));
      if (seen.has(c)) fail(R9.cpuDuplicates(c));
      seen.add(c);
    }
  }
  const unassigned = Array.from({ length: input.vcpus }, (_, c) => c).filter((c) => !seen.has(c));
  if (unassigned.length > 0) fail(R9.cpusUnassigned(unassigned));
  const total = memory.reduce((a, b) => a + b, 0);
  if (total !== input.memoryMb) fail(R9.memoryOutOfRange(total, input.memoryMb));
  return memory;
}

/** Policies that only a pinned guest may have (rules R5, R6, and the mask of R4). */
export function checkPolicies(
  policy: CpuPolicy | undefined,
  thread: CpuThreadPolicy | undefined,
  emulator: EmulatorThreadsPolicy | undefined,
  hasMask: boolean,
): void {
  const pinned = policy === 'dedicated' || policy === 'mixed';
  if (!pinned && thread !== undefined) fail(R9.threadPolicyWithoutDedicated);
  if (!pinned && emulator === 'isolate') fail(R9.emulatorIsolateWithoutDedicated);
  if (policy !== 'mixed' && hasMask) fail(R9.maskWithoutMixed);
}

// The guest's NUMA request, built from the flavor's `hw:` extra specs and the image's `hw_` properties
// (rules R1–R8) or taken from the instance topology a client sends. Request errors (rule R9) are 400
// ValidationErrors with Nova's texts; where Nova has no text (a value outside an enumeration, the checks of
// a sent topology) the text is ours and names the key. Pure.
import { PCI_NUMA_POLICIES, type PciNumaPolicy } from './numa-pci';
import { checkedCells, checkPolicies, fail, parseCpuSpec, parsePageSize, R9 } from './numa-request-checks';
import type {
  CpuPolicy,
  CpuThreadPolicy,
  EmulatorThreadsPolicy,
  GuestCellRequest,
  NumaRequest,
  PageSizeRequest,
} from './numa-types';

/** The instance topology as a client may send it, instead of the hw: keys (rule R3): guest cells with their vCPU ids. */
export interface NumaTopologyInput {
  cells: {
    id: number;
    cpuset: number[];
    pcpuset: number[];
    memoryMb: number;
    pagesizeKb?: PageSizeRequest;
    cpuPolicy?: CpuPolicy;
    cpuThreadPolicy?: CpuThreadPolicy;
  }[];
  emulatorThreadsPolicy?: EmulatorThreadsPolicy;
}

export interface NumaRequestInput {
  vcpus: number;
  memoryMb: number;
  extraSpecs?: Record<string, string>;
  imageProperties?: Record<string, string>;
  topology?: NumaTopologyInput;
}

const CPU_POLICIES = ['dedicated', 'shared', 'mixed'] as const;
const THREAD_POLICIES = ['prefer', 'isolate', 'require'] as const;
const EMULATOR_POLICIES = ['share', 'isolate'] as const;
/** Nova's NUMA_NODES_MAX: the manual keys `hw:numa_cpus.N` are read for N below it. */
const NODES_MAX = 128;

function oneOf<T extends string>(key: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  return fail(`Invalid value '${value}' for ${key}: expected one of ${allowed.join(', ')}`);
}

/** The page size of flavor and image (rule R7): the image is honoured only if the flavor says `any` or `large`. */
function pageSizeOf(flavor: string | undefined, image: string | undefined): PageSizeRequest | undefined {
  if (flavor === undefined || flavor === '') {
    return image === undefined || image === '' ? undefined : fail(R9.pageSizeForbidden(image, '<empty>'));
  }
  const size = parsePageSize(flavor);
  if (image === undefined || image === '') return size;
  return size === 'any' || size === 'large' ? parsePageSize(image) : fail(R9.pageSizeForbidden(image, flavor));
}

type Lookup = (key: string) => { flavor: string | undefined; image: string | undefined };

/** CPU policy (rule R4): the flavor's wins; the image may only choose when the flavor is silent, or agree. */
function cpuPolicyOf(get: Lookup, specs: Record<string, string>): CpuPolicy | undefined {
  const { flavor, image } = get('cpu_policy');
  const f = oneOf('hw:cpu_policy', flavor, CPU_POLICIES);
  const i = oneOf('hw_cpu_policy', image, CPU_POLICIES);
  let policy: CpuPolicy | undefined = f ?? i;
  if (f === 'mixed' && i === 'dedicated') fail(R9.imageCpuPolicy);
  if (f === 'shared' && (i === 'mixed' || i === 'dedicated')) fail(R9.imageCpuPolicy);
  const pcpus = specs['resources:PCPU'];
  const vcpus = specs['resources:VCPU'];
  if (policy !== undefined && (pcpus !== undefined || vcpus !== undefined)) {
    fail(
      "It is not possible to use the 'resources:VCPU' or 'resources:PCPU' extra specs in combination with the 'hw:cpu_policy' extra spec or 'hw_cpu_policy' image metadata property; use one or the other",
    );
  }
  if (pcpus !== undefined && vcpus !== undefined) {
    fail("It is not possible to specify both 'resources:VCPU' and 'resources:PCPU' extra specs; use one or the other");
  }
  if (pcpus !== undefined) policy = 'dedicated';
  if (vcpus !== undefined) policy = 'shared';
  return policy;
}

/** Thread policy (rule R5), with the hyperthreading trait standing for isolate (forbidden) or require (required). */
function threadPolicyOf(get: Lookup, specs: Record<string, string>): CpuThreadPolicy | undefined {
  const { flavor, image } = get('cpu_thread_policy');
  const f = oneOf('hw:cpu_thread_policy', flavor, THREAD_POLICIES);
  const i = oneOf('hw_cpu_thread_policy', image, THREAD_POLICIES);
  let policy =
    f === undefined || f === 'prefer' ? (f ?? i) : i !== undefined && i !== f ? fail(R9.imageThreadPolicy) : f;
  const trait = oneOf('trait:HW_CPU_HYPERTHREADING', specs['trait:HW_CPU_HYPERTHREADING'], ['required', 'forbidden']);
  if (trait !== undefined && policy !== undefined) {
    fail(
      "It is not possible to use the 'HW_CPU_HYPERTHREADING' trait in combination with the 'hw:cpu_thread_policy' extra spec or 'hw_cpu_thread_policy' image metadata property; use one or the other",
    );
  }
  if (trait === 'forbidden') policy = 'isolate';
  if (trait === 'required') policy = 'require';
  return policy;
}

/** `hw:cpu_dedicated_mask` (rule R4): a CPU spec, or an exclusion list when it starts with `^`. */
function dedicatedMask(mask: string | undefined, vcpus: number): number[] | undefined {
  if (mask === undefined || mask === '') return undefined;
  const spec = mask.trim().startsWith('^') ? `0-${vcpus - 1},${mask}` : mask;
  const pcpus = parseCpuSpec(spec, 'hw:cpu_dedicated_mask');
  if (pcpus.length === 0 || pcpus.length >= vcpus || pcpus.some((c) => c >= vcpus)) fail(R9.mixedMask);
  return pcpus;
}

/** The guest cells (rule R2), each vCPU sorted into shared (cpuset) or dedicated (pcpuset). */
function cellsOf(get: Lookup, input: NumaRequestInput, nodes: number, dedicated: Set<number>): GuestCellRequest[] {
  // The flavor's list, else the image's; both is an error (Nova's ImageNUMATopologyForbidden).
  const list = (prefix: string) => {
    const read = (side: 'flavor' | 'image') => {
      const out: string[] = [];
      for (let i = 0; i < NODES_MAX; i++) {
        const v = get(`${prefix}.${i}`)[side];
        if (v === undefined) break;
        out.push(v);
      }
      return out.length > 0 ? out : undefined;
    };
    const flavor = read('flavor');
    const image = read('image');
    if (flavor !== undefined && image !== undefined) fail(R9.imageNuma(`hw_${prefix}`));
    return flavor ?? image;
  };
  const cpus = list('numa_cpus');
  const mems = list('numa_mem');
  const cell = (id: number, vcpus: number[], memoryMb: number): GuestCellRequest => ({
    id,
    cpuset: vcpus.filter((c) => !dedicated.has(c)),
    pcpuset: vcpus.filter((c) => dedicated.has(c)),
    memoryMb,
  });
  if (cpus === undefined && mems === undefined) {
    if (input.vcpus % nodes !== 0 || input.memoryMb % nodes !== 0) fail(R9.asymmetric);
    const v = input.vcpus / nodes;
    return Array.from({ length: nodes }, (_, i) =>
      cell(
        i,
        Array.from({ length: v }, (_, k) => i * v + k),
        input.memoryMb / nodes,
      ),
    );
  }
  if (cpus === undefined || mems === undefined || cpus.length !== nodes || mems.length !== nodes) fail(R9.incomplete);
  const sets = (cpus as string[]).map((spec, i) => parseCpuSpec(spec, `hw:numa_cpus.${i}`));
  const memory = (mems as string[]).map((m, i) =>
    /^\s*\d+\s*$/.test(m) ? Number(m) : fail(`Invalid value '${m}' for hw:numa_mem.${i}: expected a number of MB`),
  );
  return checkedCells(sets, memory, input).map((c, i) => cell(i, sets[i] ?? [], c));
}

/** Keys that make a NUMA request from the flavor or the image: a client sends these or `numaTopology`, not both. */
const NUMA_KEY =
  /^(hw[:_](numa_|cpu_|mem_page_size|emulator_threads_policy)|resources:[PV]CPU$|trait:HW_CPU_HYPERTHREADING$)/;

/**
 * The guest's NUMA request, or null when it asks for none (rule R1: no node count, no page size, neither
 * dedicated nor mixed CPUs; such a guest never touches per-cell usage). Throws ValidationError (rule R9).
 */
export function numaRequestFrom(input: NumaRequestInput): NumaRequest | null {
  const specs = input.extraSpecs ?? {};
  const props = input.imageProperties ?? {};
  if (input.topology !== undefined) {
    const keys = [...Object.keys(specs), ...Object.keys(props)].filter((k) => NUMA_KEY.test(k));
    if (keys.length > 0) {
      fail(`A claim carries its NUMA request as numaTopology or as hw: properties, not both (${keys.join(', ')})`);
    }
    return requestFromTopology(input.topology, input);
  }
  const get: Lookup = (key) => ({
    flavor: key.includes(':') ? specs[key] : specs[`hw:${key}`],
    image: key.includes(':') ? props[key] : props[`hw_${key}`],
  });
  const policy = cpuPolicyOf(get, specs);
  const thread = threadPolicyOf(get, specs);
  const emulator = oneOf('hw:emulator_threads_policy', specs['hw:emulator_threads_policy'], EMULATOR_POLICIES);
  const mask = dedicatedMask(specs['hw:cpu_dedicated_mask'], input.vcpus);
  checkPolicies(policy, thread, emulator, mask !== undefined);
  if (policy === 'mixed' && mask === undefined) fail(R9.mixedMask);
  const nodesText = get('numa_nodes');
  if (nodesText.flavor !== undefined && nodesText.image !== undefined) fail(R9.imageNuma('hw_numa_nodes'));
  const nodesValue = nodesText.flavor ?? nodesText.image;
  // oslo's is_int_like: the text an int prints as, so `+2`, ` 2` and `02` are refused like `0`.
  if (nodesValue !== undefined && !(/^[1-9]\d*$/.test(nodesValue) && Number.isSafeInteger(Number(nodesValue)))) {
    fail(R9.invalidNodes(nodesValue));
  }
  const pagesize = pageSizeOf(get('mem_page_size').flavor, get('mem_page_size').image);
  if (nodesValue === undefined && pagesize === undefined && policy !== 'dedicated' && policy !== 'mixed') return null;
  const dedicated = new Set(
    policy === 'dedicated' ? Array.from({ length: input.vcpus }, (_, c) => c) : policy === 'mixed' ? (mask ?? []) : [],
  );
  const cells = cellsOf(get, input, Number(nodesValue ?? 1), dedicated);
  return shaped(cells, pagesize, policy, thread, emulator);
}

function shaped(
  cells: GuestCellRequest[],
  pagesize: PageSizeRequest | undefined,
  cpuPolicy: CpuPolicy | undefined,
  cpuThreadPolicy: CpuThreadPolicy | undefined,
  emulatorThreadsPolicy: EmulatorThreadsPolicy | undefined,
): NumaRequest {
  const request: NumaRequest = { cells: cells.map((c) => (pagesize === undefined ? c : { ...c, pagesize })) };
  if (cpuPolicy !== undefined) request.cpuPolicy = cpuPolicy;
  if (cpuThreadPolicy !== undefined) request.cpuThreadPolicy = cpuThreadPolicy;
  if (emulatorThreadsPolicy !== undefined) request.emulatorThreadsPolicy = emulatorThreadsPolicy;
  return request;
}

/** The instance topology a client sent: checked as Nova checks manual cells, its policies as R4–R6 say. */
function requestFromTopology(topology: NumaTopologyInput, input: NumaRequestInput): NumaRequest {
  const path = 'numaTopology';
  const cells = topology.cells;
  if (cells.length === 0) fail('numaTopology needs at least one cell', path);
  cells.forEach((c, i) => {
    if (c.id !== i) fail(`numaTopology.cells[${i}] has id ${c.id}: guest cells are numbered 0, 1, … in order`, path);
    if (typeof c.pagesizeKb === 'number' && !(Number.isInteger(c.pagesizeKb) && c.pagesizeKb > 0)) {
      fail(R9.pageSizeInvalid(String(c.pagesizeKb)), path);
    }
  });
  const same = <K extends 'cpuPolicy' | 'cpuThreadPolicy'>(key: K) => {
    const values = new Set(cells.map((c) => c[key]));
    return values.size === 1 ? cells[0]?.[key] : fail(`numaTopology: every cell must have the same ${key}`, path);
  };
  checkedCells(
    cells.map((c) => [...c.cpuset, ...c.pcpuset]),
    cells.map((c) => c.memoryMb),
    input,
  );
  const shared = cells.some((c) => c.cpuset.length > 0);
  const pinned = cells.some((c) => c.pcpuset.length > 0);
  const implied: CpuPolicy | undefined = pinned ? (shared ? 'mixed' : 'dedicated') : undefined;
  const policy = same('cpuPolicy') ?? implied;
  if ((policy ?? 'shared') !== (implied ?? 'shared')) {
    fail(`numaTopology: cpuPolicy ${policy} does not match the cells' cpuset and pcpuset`, path);
  }
  checkPolicies(policy, same('cpuThreadPolicy'), topology.emulatorThreadsPolicy, false);
  const guest = cells.map((c) => {
    const cell: GuestCellRequest = {
      id: c.id,
      cpuset: [...c.cpuset].sort((a, b) => a - b),
      pcpuset: [...c.pcpuset].sort((a, b) => a - b),
      memoryMb: c.memoryMb,
    };
    if (c.pagesizeKb !== undefined) cell.pagesize = c.pagesizeKb;
    return cell;
  });
  return shaped(guest, undefined, policy, same('cpuThreadPolicy'), topology.emulatorThreadsPolicy);
}

/**
 * The NUMA policy the flavor (`hw:pci_numa_affinity_policy`) or the image (`hw_pci_numa_affinity_policy`)
 * gives the claim's PCI requests (rule R8); undefined leaves each request's own (an alias's), else legacy.
 */
export function pciNumaPolicyFrom(
  input: Pick<NumaRequestInput, 'extraSpecs' | 'imageProperties'>,
): PciNumaPolicy | undefined {
  const flavor = input.extraSpecs?.['hw:pci_numa_affinity_policy'];
  const image = input.imageProperties?.['hw_pci_numa_affinity_policy'];
  if (flavor !== undefined && image !== undefined && flavor !== image) {
    fail(
      "Image property 'hw_pci_numa_affinity_policy' is not permitted to override the 'hw:pci_numa_affinity_policy' flavor extra spec.",
    );
  }
  const policy = flavor ?? image;
  if (policy === undefined) return undefined;
  return (PCI_NUMA_POLICIES as readonly string[]).includes(policy)
    ? (policy as PciNumaPolicy)
    : fail(`Invalid PCI NUMA affinity configured: ${policy}`);
}

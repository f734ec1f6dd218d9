// NUMA: the host's cells, the guest's request and the fitted topology, as the fit (pure) and the store
// (conditions, usage) exchange them. The rules are in docs/numa.md. CPU ids are host CPU numbers in host
// shapes and guest vCPU numbers in request shapes; memory is MiB, page sizes are KiB.

export type PageSizeRequest = 'small' | 'large' | 'any' | number;
export type CpuPolicy = 'shared' | 'dedicated' | 'mixed';
export type CpuThreadPolicy = 'prefer' | 'isolate' | 'require';
export type EmulatorThreadsPolicy = 'share' | 'isolate';

export interface MemPages {
  sizeKb: number;
  total: number;
  reserved: number;
}

/** What the compute agent reports for a cell (rule H1). */
export interface HostCellInventory {
  id: number;
  /** Host CPUs for shared (floating) vCPUs. */
  cpuset: number[];
  /** Host CPUs that may be pinned to dedicated vCPUs. */
  pcpuset: number[];
  memoryMb: number;
  siblings: number[][];
  mempages: MemPages[];
}

/** What the ledger keeps for a cell (rule H2): never reported by the agent, only changed by claims and releases. */
export interface HostCellUsage {
  cpuUsage: number;
  memoryUsageMb: number;
  pinnedCpus: number[];
  /** Pages used, by page size in KiB (the key is the size as a decimal string). */
  pagesUsed: Record<string, number>;
}

export type HostCell = HostCellInventory & HostCellUsage;

export interface HostTopology {
  cells: HostCell[];
}

/** One guest cell of the request, before the fit (rule R3). `id` is the guest cell's index. */
export interface GuestCellRequest {
  id: number;
  cpuset: number[];
  pcpuset: number[];
  memoryMb: number;
  pagesize?: PageSizeRequest;
}

export interface NumaRequest {
  cells: GuestCellRequest[];
  cpuPolicy?: CpuPolicy;
  cpuThreadPolicy?: CpuThreadPolicy;
  emulatorThreadsPolicy?: EmulatorThreadsPolicy;
}

/** Ratios for shared cells (rule F4e); `null` in a request switches that test off. */
export interface NumaLimits {
  cpuAllocationRatio: number;
  ramAllocationRatio: number;
}

/** One guest cell after the fit: `id` is now the host cell it landed on. */
export interface FittedCell {
  id: number;
  memoryMb: number;
  /** The page size the guest asked for, made concrete; null when it asked for none (usage then goes to the smallest size). */
  pagesizeKb: number | null;
  /** Shared guest vCPUs. */
  cpuset: number[];
  /** Dedicated guest vCPUs. */
  pcpuset: number[];
  /** Guest vCPU (as a decimal string) → host CPU. */
  cpuPinning: Record<string, number>;
  /** Host CPUs reserved for emulator threads (rule R6). */
  cpusetReserved: number[];
}

export interface FittedTopology {
  cells: FittedCell[];
  /** The request's CPU policy: which cells the store conditions on free pCPUs and on ratios (fitConditions). */
  cpuPolicy?: CpuPolicy;
  cpuThreadPolicy?: CpuThreadPolicy;
  emulatorThreadsPolicy?: EmulatorThreadsPolicy;
  /** The PCI devices the fit met the claim's requests with, within their NUMA policies (rule F6). */
  pciDevices?: string[];
}

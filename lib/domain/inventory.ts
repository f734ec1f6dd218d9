import type { Amounts } from './resources';

/** What the hypervisor reports for a node, with Nova's defaults filled in. */
export interface Inventory {
  vcpus: number;
  memoryMb: number;
  localGb: number;
  cpuAllocationRatio: number;
  ramAllocationRatio: number;
  diskAllocationRatio: number;
  reservedHostMemoryMb: number;
  reservedHostDiskMb: number;
  reservedHostCpus: number;
}

// Nova's config defaults (rules N2, N3): 512 MB of memory held back for the host, ratios 16 / 1.5 / 1.
export const INVENTORY_DEFAULTS = {
  cpuAllocationRatio: 16,
  ramAllocationRatio: 1.5,
  diskAllocationRatio: 1,
  reservedHostMemoryMb: 512,
  reservedHostDiskMb: 0,
  reservedHostCpus: 0,
} as const;

/**
 * What the host itself holds back. Reserved counts as used (rule N5); disk is reserved in MB but
 * tracked in GB, and Nova floors it (1536 MB reserves 1 GB).
 */
export function reserved(inv: Inventory): Amounts {
  return {
    memoryMb: inv.reservedHostMemoryMb,
    diskGb: Math.floor(inv.reservedHostDiskMb / 1024),
    vcpus: inv.reservedHostCpus,
  };
}

/**
 * The node's own limits: the formulas of Nova's Ram, Disk and Core filters (rules C2, D1). The store keeps
 * headroom against these rounded down to the ledger's grid (see onGrid), which admits the same claims.
 */
export function nodeLimits(inv: Inventory): Amounts {
  return {
    memoryMb: inv.memoryMb * inv.ramAllocationRatio,
    diskGb: inv.localGb * inv.diskAllocationRatio,
    vcpus: inv.vcpus * inv.cpuAllocationRatio,
  };
}

import type { Amounts } from './resources';

export interface Flavor {
  vcpus: number;
  memoryMb: number;
  rootGb: number;
  ephemeralGb: number;
  swapMb: number;
}

/** Hypervisor overhead for one instance; the compute agent knows it and sends it (rule D3). */
export type Overhead = Amounts;

/**
 * What an instance consumes (rule D2, Rocky's figures): a volume-backed root disk lives elsewhere and
 * swap counts as disk. Kept exact: swap in MB over 1024 is a finite binary fraction, so no drift (rule Q7).
 */
export function instanceUsage(flavor: Flavor, overhead: Overhead, volumeBacked: boolean): Amounts {
  return {
    memoryMb: flavor.memoryMb + overhead.memoryMb,
    diskGb: (volumeBacked ? 0 : flavor.rootGb) + flavor.ephemeralGb + flavor.swapMb / 1024 + overhead.diskGb,
    vcpus: flavor.vcpus + overhead.vcpus,
  };
}

import { randomUUID } from 'node:crypto';

/** Node N0 of the worked examples: small enough that a few claims fill it. */
export const N0 = {
  vcpus: 4,
  memoryMb: 512,
  localGb: 6,
  cpuAllocationRatio: 16,
  ramAllocationRatio: 1.5,
  diskAllocationRatio: 1,
  reservedHostMemoryMb: 0,
  reservedHostDiskMb: 0,
  reservedHostCpus: 0,
};

export const F1 = { vcpus: 1, memoryMb: 128, rootGb: 1, ephemeralGb: 0, swapMb: 0 };
export const F2 = { vcpus: 2, memoryMb: 256, rootGb: 5, ephemeralGb: 0, swapMb: 0 };

/** A node with room for exactly `n` one-vCPU claims, and plenty of everything else. */
export const roomForVcpus = (n: number) => ({
  vcpus: n,
  memoryMb: 1_000_000,
  localGb: 100_000,
  cpuAllocationRatio: 1,
  ramAllocationRatio: 1,
  diskAllocationRatio: 1,
  reservedHostMemoryMb: 0,
  reservedHostDiskMb: 0,
  reservedHostCpus: 0,
});

export const ONE_VCPU = { vcpus: 1, memoryMb: 1, rootGb: 1 };

export const uuid = () => randomUUID();

// The fleet a campaign runs on: its nodes (each with the inventories it may be re-registered with), the flavors,
// NUMA flavors, states, PCI requests and migration statuses its operations choose from by index (ops.ts), and
// the orphans an agent's audit may report.
import type { DeviceSpec, Flavor, Inventory, PciRequest, State } from './ledger-model';

const base = {
  cpuAllocationRatio: 16,
  ramAllocationRatio: 1.5,
  diskAllocationRatio: 1,
  reservedHostMemoryMb: 0,
  reservedHostDiskMb: 0,
  reservedHostCpus: 0,
};

const nic = (bus: string, n: number): DeviceSpec => ({
  address: `0000:${bus}:00.${n}`,
  vendorId: '8086',
  productId: '1520',
  numaNode: 0,
  deviceType: 'type-PCI',
});
const gpu = (n: number): DeviceSpec => ({
  address: `0000:3b:00.${n}`,
  vendorId: '10de',
  productId: '1eb8',
  numaNode: 1,
  deviceType: 'type-PCI',
});
const sriov = (bus: string, vfs: number, net: string): DeviceSpec[] => [
  {
    address: `0000:${bus}:00.0`,
    vendorId: '8086',
    productId: '1572',
    numaNode: 0,
    deviceType: 'type-PF',
    physicalNetwork: net,
  },
  ...Array.from({ length: vfs }, (_, i): DeviceSpec => ({
    address: `0000:${bus}:02.${i}`,
    vendorId: '8086',
    productId: '154c',
    numaNode: 0,
    deviceType: 'type-VF',
    parentAddress: `0000:${bus}:00.0`,
    physicalNetwork: net,
  })),
];

/** The NUMA node's cells: 4 shared and 4 dedicated CPUs each, 1.5 GiB of 4K pages and 256 pages of 2 MiB. */
const numaCell = (id: number) => ({
  id,
  cpuset: [0, 1, 2, 3].map((c) => 8 * id + c),
  pcpuset: [4, 5, 6, 7].map((c) => 8 * id + c),
  memoryMb: 2048,
  siblings: [],
  mempages: [
    { sizeKb: 4, total: 393216 },
    { sizeKb: 2048, total: 256 },
  ],
});
const NUMA_TOPOLOGY = { cells: [numaCell(0), numaCell(1)] };
/** The node (index in NODES) with a NUMA topology; NUMA claims go there only. */
export const NUMA_NODE = 2;

export interface NodeVariant {
  inventory: Inventory;
  devices: DeviceSpec[];
}

/**
 * Three nodes, each with a few inventories the campaign switches between: a small one that fills after a
 * handful of claims, one with reserved host resources and SR-IOV cards, one with a disk ratio off the
 * 1/1024 grid. Later variants grow, shrink (free goes negative) and change the devices (one disappears,
 * another appears) while claims hold them.
 */
export const NODES: NodeVariant[][] = [
  [
    { inventory: { ...base, vcpus: 4, memoryMb: 1024, localGb: 8 }, devices: [] },
    { inventory: { ...base, vcpus: 4, memoryMb: 2048, localGb: 12 }, devices: [nic('81', 0)] },
    { inventory: { ...base, vcpus: 2, memoryMb: 512, localGb: 4 }, devices: [] },
  ],
  [
    {
      inventory: {
        ...base,
        vcpus: 8,
        memoryMb: 2048,
        localGb: 20,
        cpuAllocationRatio: 1,
        reservedHostMemoryMb: 256,
        reservedHostDiskMb: 1536,
        reservedHostCpus: 1,
      },
      devices: [...sriov('05', 2, 'physnet1'), ...sriov('06', 2, 'physnet1'), nic('81', 0), nic('81', 1), gpu(0)],
    },
    {
      inventory: {
        ...base,
        vcpus: 8,
        memoryMb: 2048,
        localGb: 20,
        cpuAllocationRatio: 1,
        reservedHostMemoryMb: 256,
        reservedHostDiskMb: 1536,
        reservedHostCpus: 1,
      },
      devices: [...sriov('05', 2, 'physnet1'), ...sriov('06', 1, 'physnet1'), nic('81', 1), nic('81', 2), gpu(0)],
    },
    {
      inventory: {
        ...base,
        vcpus: 6,
        memoryMb: 1024,
        localGb: 10,
        cpuAllocationRatio: 1,
        reservedHostMemoryMb: 256,
        reservedHostDiskMb: 1536,
        reservedHostCpus: 1,
      },
      devices: [...sriov('06', 2, 'physnet1'), nic('81', 0)],
    },
  ],
  [
    {
      inventory: {
        ...base,
        vcpus: 16,
        memoryMb: 4096,
        localGb: 40,
        ramAllocationRatio: 1,
        diskAllocationRatio: 1.1,
        numaTopology: NUMA_TOPOLOGY,
      },
      devices: [...sriov('07', 2, 'physnet2'), nic('82', 0)],
    },
    {
      inventory: {
        ...base,
        vcpus: 16,
        memoryMb: 3000,
        localGb: 30,
        ramAllocationRatio: 1.25,
        diskAllocationRatio: 1.1,
        numaTopology: NUMA_TOPOLOGY,
      },
      devices: [...sriov('07', 3, 'physnet2')],
    },
  ],
];

export const FLAVORS: Flavor[] = [
  { vcpus: 1, memoryMb: 128, rootGb: 1, ephemeralGb: 0, swapMb: 0 },
  { vcpus: 2, memoryMb: 256, rootGb: 5, ephemeralGb: 0, swapMb: 0 },
  // Swap makes disk fractional (512 MB = 0.5 GB): sums must stay exact.
  { vcpus: 1, memoryMb: 64, rootGb: 0, ephemeralGb: 0, swapMb: 512 },
  { vcpus: 4, memoryMb: 512, rootGb: 2, ephemeralGb: 1, swapMb: 0 },
  { vcpus: 1, memoryMb: 96, rootGb: 1, ephemeralGb: 0, swapMb: 1536 },
];

/** Claims with a NUMA request (hw: extra specs): dedicated, shared over 2 cells, 2 MiB pages, and both. */
const plain = { rootGb: 1, ephemeralGb: 0, swapMb: 0 };
export const NUMA_FLAVORS: Flavor[] = [
  { vcpus: 2, memoryMb: 256, ...plain, extraSpecs: { 'hw:cpu_policy': 'dedicated' } },
  { vcpus: 2, memoryMb: 256, ...plain, extraSpecs: { 'hw:numa_nodes': '2' } },
  { vcpus: 1, memoryMb: 128, ...plain, extraSpecs: { 'hw:mem_page_size': '2048' } },
  { vcpus: 4, memoryMb: 512, ...plain, extraSpecs: { 'hw:cpu_policy': 'dedicated', 'hw:mem_page_size': '2048' } },
];

export const OVERHEAD = { memoryMb: 8, diskGb: 1, vcpus: 0 };
export const NO_OVERHEAD = { memoryMb: 0, diskGb: 0, vcpus: 0 };

export const STATES: State[] = [
  { vmState: 'building', taskState: 'scheduling', osType: null, projectId: null },
  { vmState: 'active', taskState: null, osType: 'linux', projectId: 'p1' },
  { vmState: 'active', taskState: null, osType: 'windows', projectId: 'p2' },
  { vmState: 'paused', taskState: 'image_snapshot', osType: 'linux', projectId: 'p1' },
  // Unshelve as Nova's compute manager claims it (rule M9).
  { vmState: 'shelved_offloaded', taskState: 'spawning', osType: 'linux', projectId: 'p2' },
];

export const CHANGES: Partial<State>[] = [
  { vmState: 'active', taskState: null },
  { taskState: 'resize_prep' },
  { projectId: 'p3' },
  { vmState: 'stopped', osType: 'linux' },
  { vmState: 'error', taskState: null },
  { vmState: 'deleted' },
  { vmState: 'shelved_offloaded' },
  { vmState: 'shelved_offloaded', taskState: 'unshelving' },
  { taskState: null },
];

export const PCI_REQUESTS: PciRequest[][] = [
  [{ count: 1, spec: [{ vendorId: '8086', productId: '1520' }] }],
  [{ count: 1, spec: [{ deviceType: 'type-VF' }] }],
  [{ count: 1, spec: [{ deviceType: 'type-PF' }] }],
  [{ count: 2, spec: [{ deviceType: 'type-VF', physicalNetwork: 'physnet1' }] }],
  [
    { count: 1, spec: [{ vendorId: '10de' }] },
    { count: 1, spec: [{ deviceType: 'type-VF' }, { vendorId: '8086', productId: '1520' }] },
  ],
  // A flavor's alias: a live migration refuses it (rule L3), every other claim takes it like any request.
  [{ count: 1, spec: [{ vendorId: '8086', productId: '1520' }], aliasName: 'nic' }],
];

export const STATUSES = [
  'pre-migrating',
  'migrating',
  'post-migrating',
  'finished',
  'confirming',
  'reverting',
  'confirmed',
  'reverted',
  'error',
  'failed',
  'cancelled',
  'done',
  'queued',
  'preparing',
  'running',
  'completed',
] as const;

// What an agent's audit reports as orphans (rule M10): none, one, one listed twice with another. Their
// UUIDs are never claimed.
const orphan = (n: number, memoryMb: number) => ({ instanceUuid: `0e9a0000-0000-4000-8000-00000000000${n}`, memoryMb });
export const ORPHANS = [[], [orphan(1, 64)], [orphan(1, 64), orphan(2, 32), orphan(1, 48)]];

// A small fleet with some variety (reserved host resources, a PCI node, one node overcommitted past its physical
// memory, an empty one), for the page test and the README's screenshot.
import { randomUUID } from 'node:crypto';
import type { ApiClient } from '../../lib/client/api-client';

interface DemoNode {
  nodeId: string;
  inventory: Record<string, unknown>;
  /** vcpus:memoryMb:rootGb of each instance to claim. */
  claims: Array<[number, number, number]>;
  pci?: number;
}

const pciDevices = [
  { address: '0000:81:00.0', vendorId: '8086', productId: '1572', deviceType: 'type-PF' },
  ...[0, 1, 2, 3].map((i) => ({
    address: `0000:81:02.${i}`,
    vendorId: '8086',
    productId: '154c',
    deviceType: 'type-VF',
    parentAddress: '0000:81:00.0',
  })),
  { address: '0000:3b:00.0', vendorId: '10de', productId: '20b5', deviceType: 'type-PCI', numaNode: 0 },
  { address: '0000:3c:00.0', vendorId: '10de', productId: '20b5', deviceType: 'type-PCI', numaNode: 1 },
];

export const DEMO_FLEET: DemoNode[] = [
  {
    nodeId: 'compute-01',
    inventory: {
      vcpus: 32,
      memoryMb: 131072,
      localGb: 1800,
      reservedHostMemoryMb: 4096,
      reservedHostCpus: 2,
      reservedHostDiskMb: 51200,
    },
    claims: [
      [8, 32768, 200],
      [8, 32768, 200],
      [4, 16384, 100],
      [16, 16384, 80],
    ],
  },
  {
    nodeId: 'compute-02',
    inventory: { vcpus: 32, memoryMb: 131072, localGb: 1800, reservedHostMemoryMb: 4096 },
    claims: [
      [16, 65536, 400],
      [16, 65536, 400],
      [32, 16384, 300],
      [32, 8192, 200],
    ],
  },
  { nodeId: 'compute-03', inventory: { vcpus: 48, memoryMb: 262144, localGb: 3600 }, claims: [[4, 8192, 40]] },
  {
    nodeId: 'gpu-01',
    inventory: { vcpus: 64, memoryMb: 524288, localGb: 7200, pciDevices },
    claims: [
      [16, 131072, 500],
      [16, 131072, 500],
    ],
    pci: 2,
  },
  {
    nodeId: 'edge-01',
    inventory: { vcpus: 4, memoryMb: 8192, localGb: 100, ramAllocationRatio: 1, cpuAllocationRatio: 4 },
    claims: [
      [4, 4096, 40],
      [4, 2048, 40],
      [4, 1024, 10],
    ],
  },
  { nodeId: 'spare-01', inventory: { vcpus: 16, memoryMb: 65536, localGb: 900 }, claims: [] },
];

async function ok(client: ApiClient, method: string, path: string, body: unknown): Promise<void> {
  const res = await client.request(method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function seedDemoFleet(client: ApiClient): Promise<void> {
  for (const node of DEMO_FLEET) {
    await ok(client, 'PUT', `/nodes/${node.nodeId}`, node.inventory);
    for (const [i, [vcpus, memoryMb, rootGb]] of node.claims.entries()) {
      const pciRequests = i < (node.pci ?? 0) ? [{ count: 1, spec: [{ vendorId: '10de' }] }] : [];
      await ok(client, 'POST', `/nodes/${node.nodeId}/instances`, {
        instanceUuid: randomUUID(),
        flavor: { vcpus, memoryMb, rootGb },
        vmState: 'active',
        taskState: null,
        pciRequests,
      });
    }
  }
}

import {
  boundsDiscrepancies,
  deviceDiscrepancies,
  ledgerDiscrepancies,
  nodeLedgerOf,
} from '../../support/ledger-check';

// A node of 4 vCPUs at ratio 2, 1,024 MB at 1.5 with 512 reserved, 10 GB, holding one instance of
// 1 vCPU / 256 MB / 5 GB and one move hold of 2 / 512 / 5.
const node = {
  pk: 'NODE#n0',
  sk: 'NODE',
  vcpus: 4,
  memoryMb: 1024,
  localGb: 10,
  cpuAllocationRatio: 2,
  ramAllocationRatio: 1.5,
  diskAllocationRatio: 1,
  reservedHostMemoryMb: 512,
  reservedHostDiskMb: 0,
  reservedHostCpus: 0,
  vcpusClaimed: 3,
  memoryMbClaimed: 768,
  localGbClaimed: 10,
  vcpusUsed: 3,
  memoryMbUsed: 1280,
  localGbUsed: 10,
  vcpusHeadroom: 5,
  memoryMbHeadroom: 256,
  localGbHeadroom: 0,
  trackedCount: 2,
  generation: 7,
  orphanMemoryMb: 0,
};
const instance = {
  pk: 'NODE#n0',
  sk: 'INSTANCE#i1',
  instanceUuid: 'i1',
  vcpus: 1,
  memoryMb: 256,
  diskGb: 5,
  pciDevices: [],
  vmState: 'active',
  taskState: null,
  osType: 'linux',
  projectId: 'p1',
};
const hold = { pk: 'NODE#n0', sk: 'MOVE#m1#new', vcpus: 2, memoryMb: 512, diskGb: 5 };

const read = (items: Record<string, unknown>[]) => {
  const found = nodeLedgerOf(items);
  if (!found) throw new Error('no node item');
  return found;
};

test('a ledger that adds up has no discrepancies', () => {
  const { ledger, nodeItem } = read([node, instance, hold]);
  expect(ledger.sum).toEqual({ vcpus: 3, memoryMb: 768, diskGb: 10 });
  expect(ledgerDiscrepancies(ledger)).toEqual([]);
  expect(boundsDiscrepancies(ledger, nodeItem)).toEqual([]);
  const view = { num_instances: 1, num_vm_active: 1, num_task_None: 1, num_os_type_linux: 1, num_proj_p1: 1 };
  expect(boundsDiscrepancies(ledger, nodeItem, { ...view, io_workload: 0 })).toEqual([]);
});

test('each broken figure is named', () => {
  const broken = { ...node, vcpusUsed: 4, memoryMbClaimed: 700, localGbHeadroom: 1, trackedCount: 1 };
  expect(ledgerDiscrepancies(read([broken, instance, hold]).ledger)).toEqual([
    'vcpus used 4 != reserved 0 + records and holds 3',
    'vcpus headroom 5 != limit 8 - used 4',
    'memoryMb claimed 700 != records and holds 768',
    'localGb headroom 1 != limit 10 - used 10',
    'trackedCount 1 != 1 records + 1 holds',
  ]);
});

test('orphans count as memory held; the limit is on the 1/1024 grid', () => {
  const withOrphan = { ...node, orphanMemoryMb: 128, memoryMbClaimed: 896, memoryMbUsed: 1408, memoryMbHeadroom: 128 };
  expect(ledgerDiscrepancies(read([withOrphan, instance, hold]).ledger)).toEqual([]);
  // 4 vCPUs at ratio 1.0001 is 4.0004, 4 on the grid: headroom is kept against the limit rounded down.
  const offGrid = { ...node, vcpus: 4, cpuAllocationRatio: 1.0001, vcpusHeadroom: 1 };
  expect(ledgerDiscrepancies(read([offGrid, instance, hold]).ledger)).toEqual([]);
  expect(ledgerDiscrepancies(read([{ ...offGrid, vcpusHeadroom: 4.0004 - 3 }, instance, hold]).ledger)).toEqual([
    `vcpus headroom ${4.0004 - 3} != limit 4 - used 3`,
  ]);
});

test('no node item, no ledger; usage over the limit, stored stats and view stats that miss a record are bounds discrepancies', () => {
  expect(nodeLedgerOf([instance])).toBeUndefined();
  const over = { ...node, vcpus: 1, cpuAllocationRatio: 1, vcpusHeadroom: -2, stats: { num_instances: 1 } };
  const { ledger, nodeItem } = read([over, instance, hold]);
  expect(ledgerDiscrepancies(ledger)).toEqual([]);
  const view = { num_instances: 1, num_vm_active: 0, num_task_None: 1, num_os_type_linux: 1, num_proj_p1: 1 };
  expect(boundsDiscrepancies(ledger, nodeItem, view)).toEqual([
    'vcpus used 3 exceeds limit 1',
    'the node item stores stats {"num_instances":1}',
    'view stats [["num_instances",1],["num_os_type_linux",1],["num_proj_p1",1],["num_task_None",1],["num_vm_active",0]]' +
      ' != records\' [["num_instances",1],["num_os_type_linux",1],["num_proj_p1",1],["num_task_None",1],["num_vm_active",1]]',
  ]);
});

test('devices agree with the records that hold them, and a PF counts its busy VFs', () => {
  const pf = { address: 'pf', deviceType: 'type-PF', busyChildren: 1 };
  const vf = { address: 'vf1', deviceType: 'type-VF', parentAddress: 'pf', owner: 'i1' };
  const holder = { ...instance, pciDevices: ['vf1'] };
  expect(deviceDiscrepancies([pf, vf], [holder])).toEqual([]);
  expect(deviceDiscrepancies([{ ...pf, busyChildren: 0 }, vf], [instance])).toEqual([
    "device owners (1) != records' devices (0): [vf1=i1] vs []",
    'pf: busyChildren 0 != 1 VFs held',
  ]);
  const { pciDevices: _, ...unlisted } = holder;
  expect(deviceDiscrepancies([pf, vf], [unlisted])).toContain('i1: no pciDevices list');
});

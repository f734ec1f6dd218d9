// PCI passthrough devices: pools, device claims and releases in the same atomic write as vCPU, memory and disk.
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { F1, N0, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('pci');
});

const nic = (n: number, extra: object = {}) => ({ address: `0000:81:00.${n}`, vendorId: '8086', productId: '1520', numaNode: 0, ...extra });
const gpu = (n: number) => ({ address: `0000:3b:00.${n}`, vendorId: '10de', productId: '1eb8', numaNode: 1 });
const NIC = [{ count: 1, spec: [{ vendorId: '8086', productId: '1520' }] }];

let seq = 0;
async function node(devices: object[], inventory: object = N0) {
  const id = `pci-${++seq}`;
  const res = await api('PUT', `/nodes/${id}`, { ...inventory, pciDevices: devices });
  expect(res.status).toBe(201);
  return { id, view: res.body };
}
const claim = (nodeId: string, pciRequests: object[], extra: object = {}) =>
  api('POST', `/nodes/${nodeId}/instances`, { instanceUuid: uuid(), flavor: F1, pciRequests, ...extra });
const pools = async (nodeId: string) =>
  (await api('GET', `/nodes/${nodeId}`)).body.pciDevicePools.map((p: { vendorId: string; count: number; free: number }) => `${p.vendorId}:${p.free}/${p.count}`);

test('the node reports its devices as pools; a claim takes a matching device and a release gives it back', async () => {
  const { id, view } = await node([nic(0), nic(1), gpu(0)]);
  expect(view.pciDevicePools).toEqual([
    { vendorId: '10de', productId: '1eb8', numaNode: 1, deviceType: 'type-PCI', count: 1, free: 1 },
    { vendorId: '8086', productId: '1520', numaNode: 0, deviceType: 'type-PCI', count: 2, free: 2 },
  ]);
  const res = await claim(id, NIC);
  expect(res.status).toBe(201);
  expect(res.body.pciDevices).toHaveLength(1);
  expect(res.body.pciDevices[0]).toMatch(/^0000:81:00\.[01]$/);
  expect(await pools(id)).toEqual(['10de:1/1', '8086:1/2']);
  expect((await api('DELETE', `/nodes/${id}/instances/${res.body.instanceUuid}`)).status).toBe(204);
  expect(await pools(id)).toEqual(['10de:1/1', '8086:2/2']);
  await expectLedgerExact(store, id);
});

test('not enough matching devices: 409 with Claim pci failed after the other reasons, nothing changes', async () => {
  const { id } = await node([nic(0)]);
  const res = await claim(id, [{ count: 2, spec: [{ vendorId: '8086' }] }], { limits: { vcpus: 0 } });
  expect(res.status).toBe(409);
  expect(res.body.message).toBe('Insufficient compute resources: Free vcpu 0.00 VCPU < requested 1 VCPU; Claim pci failed.');
  expect(await pools(id)).toEqual(['8086:1/1']);
  expect((await api('GET', `/nodes/${id}`)).body.vcpusUsed).toBe(0);
});

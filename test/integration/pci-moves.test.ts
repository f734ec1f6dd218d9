// Moves take devices on the destination for the new size and free exactly the side that goes.
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { F1, F2, N0, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('pci-moves');
});

const nics = (bus: string) =>
  [0, 1].map((n) => ({ address: `0000:${bus}:00.${n}`, vendorId: '8086', productId: '1520' }));
const NIC = [{ count: 1, spec: [{ vendorId: '8086' }] }];
const free = async (nodeId: string) => (await api('GET', `/nodes/${nodeId}`)).body.pciDevicePools[0].free;

let seq = 0;
async function setup() {
  const [a, b] = [`pm-a-${++seq}`, `pm-b-${seq}`];
  await api('PUT', `/nodes/${a}`, { ...N0, pciDevices: nics('81') });
  await api('PUT', `/nodes/${b}`, { ...N0, pciDevices: nics('82') });
  const i = uuid();
  const claimed = await api('POST', `/nodes/${a}/instances`, { instanceUuid: i, flavor: F1, pciRequests: NIC });
  expect(claimed.status).toBe(201);
  const m = `pm-${seq}`;
  const moved = await api('POST', `/nodes/${b}/move-claims`, {
    migrationId: m,
    instanceUuid: i,
    moveType: 'resize',
    sourceNodeId: a,
    newFlavor: F2,
    pciRequests: NIC,
  });
  expect(moved.status).toBe(201);
  expect(moved.body.claim.pciDevices).toHaveLength(1);
  expect(moved.body.claim.pciDevices[0]).toMatch(/^0000:82:/);
  expect([await free(a), await free(b)]).toEqual([1, 1]);
  return { a, b, i, m, before: claimed.body.pciDevices as string[], after: moved.body.claim.pciDevices as string[] };
}

test('a resize takes a device on the destination; confirmed frees the source device', async () => {
  const { a, b, i, m, after } = await setup();
  await api('POST', `/migrations/${m}/status`, { status: 'finished' });
  expect([await free(a), await free(b)]).toEqual([1, 1]);
  expect((await api('GET', `/nodes/${b}/instances/${i}`)).body.pciDevices).toEqual(after);
  await api('POST', `/migrations/${m}/status`, { status: 'confirmed' });
  expect([await free(a), await free(b)]).toEqual([2, 1]);
  await expectLedgerExact(store, a);
  await expectLedgerExact(store, b);
  expect((await api('DELETE', `/nodes/${b}/instances/${i}`)).status).toBe(204);
  expect(await free(b)).toBe(2);
});

test('reverted frees the destination device and the instance keeps its old one', async () => {
  const { a, b, i, m, before } = await setup();
  await api('POST', `/migrations/${m}/status`, { status: 'finished' });
  await api('POST', `/migrations/${m}/status`, { status: 'reverted' });
  expect([await free(a), await free(b)]).toEqual([1, 2]);
  expect((await api('GET', `/nodes/${a}/instances/${i}`)).body.pciDevices).toEqual(before);
});

test('a failed move and a dropped move claim free the destination device', async () => {
  const first = await setup();
  await api('POST', `/migrations/${first.m}/status`, { status: 'failed' });
  expect([await free(first.a), await free(first.b)]).toEqual([1, 2]);
  const second = await setup();
  expect((await api('DELETE', `/nodes/${second.b}/move-claims/${second.m}`)).status).toBe(204);
  expect(await free(second.b)).toBe(2);
});

test('a same-host resize holds old and new devices until the confirmation', async () => {
  const n = `pm-same-${++seq}`;
  await api('PUT', `/nodes/${n}`, { ...N0, pciDevices: nics('83') });
  const i = uuid();
  await api('POST', `/nodes/${n}/instances`, { instanceUuid: i, flavor: F1, pciRequests: NIC });
  const m = `pm-same-m-${seq}`;
  await api('POST', `/nodes/${n}/move-claims`, {
    migrationId: m,
    instanceUuid: i,
    moveType: 'resize',
    sourceNodeId: n,
    newFlavor: F2,
    pciRequests: NIC,
  });
  expect(await free(n)).toBe(0);
  await api('POST', `/migrations/${m}/status`, { status: 'confirmed' });
  expect(await free(n)).toBe(1);
  await expectLedgerExact(store, n);
});

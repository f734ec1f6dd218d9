// How many DynamoDB requests a PCI release takes (issue of cost, rule CU3): with this container's fresh copy of
// the devices it skips their read; with a copy another container made stale it still frees exactly its devices.
import { runtime } from '../../lib/api/runtime';
import { claimSchema } from '../../lib/api/schemas';
import { InsufficientResources } from '../../lib/errors';
import { claimInstance, createStore, DeviceCache, releaseInstance, type Store } from '../../lib/store';
import { api } from '../support/api';
import { roomForVcpus, uuid } from '../support/fixtures';
import { expectPciExact } from '../support/pci';
import { requestsSent } from '../support/requests';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('pci-requests');
});

const pf = { address: '0000:3b:00.0', vendorId: '8086', productId: '1572', numaNode: 0, deviceType: 'type-PF' };
const vfs = Array.from({ length: 4 }, (_, v) => ({
  address: `0000:3c:02.${v}`,
  vendorId: '8086',
  productId: '154c',
  numaNode: 0,
  deviceType: 'type-VF',
  parentAddress: pf.address,
}));
const oneVf = { count: 1, spec: [{ vendorId: '8086', productId: '154c' }] };
const claim = (nodeId: string, instanceUuid: string) =>
  api('POST', `/nodes/${nodeId}/instances`, {
    instanceUuid,
    flavor: { vcpus: 1, memoryMb: 1, rootGb: 1 },
    pciRequests: [oneVf],
  });

/** A store as another Lambda container has one: its own client and device cache. */
const otherContainer = () =>
  createStore({ tableName: store.tableName, endpoint: process.env.DYNAMODB_ENDPOINT }, { devices: new DeviceCache() });
/** The claim of one VF, as the store takes it. */
const vfRequest = (instanceUuid: string) =>
  claimSchema.parse({ instanceUuid, flavor: { vcpus: 1, memoryMb: 1, rootGb: 1 }, pciRequests: [oneVf] });

/** The handlers' DynamoDB requests by command while `run` runs, sorted. */
const requests = async (run: () => Promise<unknown>) => (await requestsSent(runtime().store, run)).sort();

test('a release with a fresh copy of the devices is a read of the record and one write', async () => {
  await api('PUT', '/nodes/pci-r1', { ...roomForVcpus(8), pciDevices: [pf, ...vfs] });
  const i = uuid();
  expect((await claim('pci-r1', i)).status).toBe(201);
  const sent = await requests(async () =>
    expect((await api('DELETE', `/nodes/pci-r1/instances/${i}`)).status).toBe(204),
  );
  expect(sent).toEqual(['GetItem', 'TransactWriteItems']);
  const { devices } = await expectPciExact(store, 'pci-r1');
  expect(devices.filter((d) => d.owner !== undefined)).toEqual([]);
});

test('a release whose copy another container made stale fails its conditions once, reads, and frees exactly', async () => {
  await api('PUT', '/nodes/pci-r2', { ...roomForVcpus(8), pciDevices: [pf, ...vfs] });
  const [mine, theirs] = [uuid(), uuid()];
  expect((await claim('pci-r2', mine)).status).toBe(201);
  // Another container (its own store and cache) claims a sibling VF: this container's copy misses it.
  const other = otherContainer();
  expect((await claimInstance(other, 'pci-r2', vfRequest(theirs))).created).toBe(true);
  const sent = await requests(async () =>
    expect((await api('DELETE', `/nodes/pci-r2/instances/${mine}`)).status).toBe(204),
  );
  // The copy counts one busy VF on the PF, so the write expects the PF to become free; it has two: the write
  // fails, the copy is dropped, and the retry reads the record and the devices again.
  expect(sent).toEqual(['GetItem', 'GetItem', 'Query', 'TransactWriteItems', 'TransactWriteItems']);
  const { devices, instances } = await expectPciExact(store, 'pci-r2');
  expect(instances.map((r) => r.instanceUuid)).toEqual([theirs]);
  expect(devices.filter((d) => d.owner !== undefined).map((d) => d.owner)).toEqual([theirs]);
});

/** `pfs` PFs of `perPf` VFs each, on buses 0x40 + p. */
const card = (pfs: number, perPf: number) =>
  Array.from({ length: pfs }, (_, p) => {
    const parent = { ...pf, address: `0000:${(0x40 + p).toString(16)}:00.0` };
    const children = Array.from({ length: perPf }, (_, v) => ({
      ...vfs[0],
      address: `0000:${(0x50 + p).toString(16)}:02.${v}`,
      parentAddress: parent.address,
    }));
    return [parent, ...children];
  }).flat();
const count = (sent: string[], command: string) => sent.filter((c) => c === command).length;

// Rule P6: racing claims of one container on PFs none of which is in use yet each flip a PF's busy count from
// 0, so each but one per PF would fail its condition; they wait for the one in flight instead.
test('16 racing claims of one VF each on 4 PFs x 16 VFs: all land on distinct VFs, one write each', async () => {
  await api('PUT', '/nodes/pci-r3', { ...roomForVcpus(64), pciDevices: card(4, 16) });
  const uuids = Array.from({ length: 16 }, () => uuid());
  let replies: Awaited<ReturnType<typeof claim>>[] = [];
  const sent = await requests(async () => (replies = await Promise.all(uuids.map((i) => claim('pci-r3', i)))));
  expect(replies.map((r) => r.status)).toEqual(Array(16).fill(201));
  const given = replies.flatMap((r) => r.body.pciDevices as string[]);
  expect(new Set(given).size).toBe(16);
  expect(count(sent, 'TransactWriteItems')).toBe(16);
  const { devices } = await expectPciExact(store, 'pci-r3');
  expect(
    devices
      .filter((d) => d.owner !== undefined)
      .map((d) => d.address)
      .sort(),
  ).toEqual([...given].sort());

  // All released at once: the last VF freed on each PF waits for the other releases of it in flight.
  const freed = await requests(async () => {
    const statuses = await Promise.all(
      uuids.map(async (i) => (await api('DELETE', `/nodes/pci-r3/instances/${i}`)).status),
    );
    expect(statuses).toEqual(Array(16).fill(204));
  });
  expect([count(freed, 'GetItem'), count(freed, 'TransactWriteItems')]).toEqual([16, 16]);
  const after = await expectPciExact(store, 'pci-r3');
  expect(after.devices.filter((d) => d.owner !== undefined)).toEqual([]);
  expect(after.instances).toEqual([]);
});

test('claims racing from two containers (two caches) all land on distinct VFs: the conditions decide', async () => {
  await api('PUT', '/nodes/pci-r4', { ...roomForVcpus(64), pciDevices: card(2, 8) });
  const other = otherContainer();
  const theirs = Array.from({ length: 8 }, () => uuid());
  const [mine, elsewhere] = await Promise.all([
    Promise.all(Array.from({ length: 8 }, () => claim('pci-r4', uuid()))),
    Promise.all(theirs.map((i) => claimInstance(other, 'pci-r4', vfRequest(i)))),
  ]);
  expect(mine.map((r) => r.status)).toEqual(Array(8).fill(201));
  expect(elsewhere.map((r) => r.created)).toEqual(Array(8).fill(true));
  const given = [
    ...mine.flatMap((r) => r.body.pciDevices as string[]),
    ...elsewhere.flatMap((r) => r.record.pciDevices),
  ];
  expect(new Set(given).size).toBe(16);
  const { devices } = await expectPciExact(store, 'pci-r4');
  expect(devices.filter((d) => d.deviceType === 'type-VF' && d.owner === undefined)).toEqual([]);
});

// A node deleted and registered again makes its devices anew (rule P7): a copy another container made of the old
// node's devices (all free) is wrong, and its conditions say so.
test("another container's copy from before the node was deleted and registered again neither double-books nor refuses wrongly", async () => {
  const devices = [pf, ...vfs.slice(0, 2)];
  await api('PUT', '/nodes/pci-r5', { ...roomForVcpus(8), pciDevices: devices });
  const other = otherContainer();
  for (let k = 0; k < 3; k++) {
    const i = uuid();
    expect((await claimInstance(other, 'pci-r5', vfRequest(i))).created).toBe(true);
    expect(await releaseInstance(other, 'pci-r5', i)).toBe(true);
  }
  expect((await api('DELETE', '/nodes/pci-r5')).status).toBe(204);
  expect((await api('PUT', '/nodes/pci-r5', { ...roomForVcpus(8), pciDevices: devices })).status).toBe(201);
  const [first, second] = [uuid(), uuid()];
  expect([(await claim('pci-r5', first)).status, (await claim('pci-r5', second)).status]).toEqual([201, 201]);
  // Both VFs are taken; the other container's copy has them free.
  await expect(claimInstance(other, 'pci-r5', vfRequest(uuid()))).rejects.toBeInstanceOf(InsufficientResources);
  expect((await api('DELETE', `/nodes/pci-r5/instances/${first}`)).status).toBe(204);
  const late = uuid();
  const landed = await claimInstance(other, 'pci-r5', vfRequest(late));
  expect(landed.created).toBe(true);
  const after = await expectPciExact(store, 'pci-r5');
  const owners = after.devices.filter((d) => d.owner !== undefined).map((d) => d.owner);
  expect(owners.sort()).toEqual([second, late].sort());
});

// Rule P7: a device item made anew at an address (the device gone and reported again, or its node deleted and
// registered again) must not meet the conditions of a claim chosen from a copy of the device it replaces.
describe('a copy of a device that was replaced by a new device at the same address', () => {
  const at = (address: string, productId: string) => ({
    address,
    vendorId: '8086',
    productId,
    numaNode: 0,
    deviceType: 'type-PCI',
  });
  const [a0, a1] = ['0000:5e:00.0', '0000:5e:00.1'];
  const wanted = (instanceUuid: string) =>
    claimSchema.parse({
      instanceUuid,
      flavor: { vcpus: 1, memoryMb: 1, rootGb: 1 },
      pciRequests: [{ count: 1, spec: [{ vendorId: '8086', productId: 'aaaa' }] }],
    });

  /** The other container's claim, refused; the device now at `address` free and as reported. */
  async function refusedFromCopy(other: Store, nodeId: string, address: string) {
    await expect(claimInstance(other, nodeId, wanted(uuid()))).rejects.toBeInstanceOf(InsufficientResources);
    const { devices } = await expectPciExact(store, nodeId);
    const now = devices.find((d) => d.address === address);
    expect([now?.productId, now?.owner]).toEqual(['bbbb', undefined]);
  }

  test('gone from the inventory and reported again as another product', async () => {
    const nodeId = 'pci-r6';
    await api('PUT', `/nodes/${nodeId}`, { ...roomForVcpus(8), pciDevices: [at(a0, 'aaaa'), at(a1, 'aaaa')] });
    const other = otherContainer();
    expect((await claimInstance(other, nodeId, wanted(uuid()))).created).toBe(true);
    const held = (await expectPciExact(store, nodeId)).devices.find((d) => d.owner !== undefined)?.address;
    const free = held === a0 ? a1 : a0;
    const kept = at(held as string, 'aaaa');
    expect((await api('PUT', `/nodes/${nodeId}`, { ...roomForVcpus(8), pciDevices: [kept] })).status).toBe(200);
    const replaced = at(free, 'bbbb');
    expect((await api('PUT', `/nodes/${nodeId}`, { ...roomForVcpus(8), pciDevices: [kept, replaced] })).status).toBe(
      200,
    );
    // The copy shows the free address as an aaaa device at the version the new bbbb device starts at.
    await refusedFromCopy(other, nodeId, free);
  });

  test('the node deleted and registered again with another product there', async () => {
    const nodeId = 'pci-r7';
    await api('PUT', `/nodes/${nodeId}`, { ...roomForVcpus(8), pciDevices: [at(a0, 'aaaa'), at(a1, 'aaaa')] });
    const other = otherContainer();
    const first = uuid();
    expect((await claimInstance(other, nodeId, wanted(first))).created).toBe(true);
    expect(await releaseInstance(other, nodeId, first)).toBe(true);
    expect((await api('DELETE', `/nodes/${nodeId}`)).status).toBe(204);
    const again = { ...roomForVcpus(8), pciDevices: [at(a1, 'bbbb')] };
    expect((await api('PUT', `/nodes/${nodeId}`, again)).status).toBe(201);
    await refusedFromCopy(other, nodeId, a1);
  });
});

// Rule P8: a cancellation brings a PF back as it is now but not its VFs, whose claims and releases it counts.
test("a PF learned from a failed claim's cancellation does not price a later claim of the PF from its VFs as they were", async () => {
  await api('PUT', '/nodes/pci-r8', { ...roomForVcpus(4), pciDevices: [pf, ...vfs.slice(0, 2)] });
  const other = otherContainer();
  const held = uuid();
  // The other container takes a VF, then this one releases it: the other's copy still shows it held.
  expect((await claimInstance(other, 'pci-r8', vfRequest(held))).created).toBe(true);
  expect((await api('DELETE', `/nodes/pci-r8/instances/${held}`)).status).toBe(204);
  expect(
    (
      await api('POST', '/nodes/pci-r8/instances', {
        instanceUuid: uuid(),
        flavor: { vcpus: 3, memoryMb: 1, rootGb: 1 },
      })
    ).status,
  ).toBe(201);
  // A claim of a VF the node has no vCPUs for: its write fails on the node, and on the PF, whose busy VF the copy
  // still counts; the cancellation brings the PF back as it is now, and the claim is refused.
  const tooBig = claimSchema.parse({
    instanceUuid: uuid(),
    flavor: { vcpus: 2, memoryMb: 1, rootGb: 1 },
    pciRequests: [oneVf],
  });
  await expect(claimInstance(other, 'pci-r8', tooBig)).rejects.toBeInstanceOf(InsufficientResources);
  // The PF itself: both its VFs are free, and both must leave the VF pool with it.
  const wholePf = { count: 1, spec: [{ deviceType: 'type-PF' }] };
  const whole = claimSchema.parse({
    instanceUuid: uuid(),
    flavor: { vcpus: 1, memoryMb: 1, rootGb: 1 },
    pciRequests: [wholePf],
  });
  expect((await claimInstance(other, 'pci-r8', whole)).record.pciDevices).toEqual([pf.address]);
  await expectPciExact(store, 'pci-r8');
});

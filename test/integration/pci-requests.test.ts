// How many DynamoDB requests a PCI release takes (issue of cost, rule CU3): with this container's fresh copy of
// the devices it skips their read; with a copy another container made stale it still frees exactly its devices.
import { runtime } from '../../lib/api/runtime';
import { claimSchema } from '../../lib/api/schemas';
import { claimInstance, createStore, DeviceCache, type Store } from '../../lib/store';
import { api } from '../support/api';
import { roomForVcpus, uuid } from '../support/fixtures';
import { expectPciExact } from '../support/pci';
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

/** Counts the handlers' DynamoDB requests by command while `run` runs. */
async function requests(run: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const name = `count-${Math.random()}`;
  runtime().store.client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name },
  );
  try {
    await run();
  } finally {
    runtime().store.client.middlewareStack.remove(name);
  }
  return sent.sort();
}

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
  const other = createStore(
    { tableName: store.tableName, endpoint: process.env.DYNAMODB_ENDPOINT },
    { devices: new DeviceCache() },
  );
  const request = claimSchema.parse({
    instanceUuid: theirs,
    flavor: { vcpus: 1, memoryMb: 1, rootGb: 1 },
    pciRequests: [oneVf],
  });
  expect((await claimInstance(other, 'pci-r2', request)).created).toBe(true);
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

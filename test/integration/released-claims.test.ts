// A late retry must not resurrect a released claim (issue 13, rule O5): the claim's request sent again
// after its release is 409 InstanceConflict while the release window lasts, and changes nothing; a new
// claim of the instance (an unshelve, a reschedule onto another node) or one sent after the window is taken.
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { F1, N0, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('released');
});

let seq = 0;
async function node() {
  const id = `released-${++seq}`;
  expect((await api('PUT', `/nodes/${id}`, N0)).status).toBe(201);
  return id;
}

const scan = async () =>
  ((await store.doc.send(new ScanCommand({ TableName: store.tableName, ConsistentRead: true }))).Items ?? [])
    .map((i) => JSON.stringify(i, Object.keys(i).sort()))
    .sort();

async function used(nodeId: string) {
  await expectLedgerExact(store, nodeId);
  const n = (await api('GET', `/nodes/${nodeId}`)).body;
  return `${n.memoryMbUsed}/${n.localGbUsed}/${n.vcpusUsed} running ${n.runningVms}`;
}

const building = () => ({ instanceUuid: uuid(), flavor: F1, vmState: 'building', taskState: 'spawning' });

const releases: [string, (path: string) => Promise<number>][] = [
  ['DELETE', async (path) => (await api('DELETE', path)).status],
  ['a PATCH to deleted', async (path) => (await api('PATCH', path, { vmState: 'deleted', taskState: null })).status],
];

describe.each(releases)('a claim released by %s', (_, release) => {
  test('sent again is 409 InstanceConflict and changes nothing', async () => {
    const n = await node();
    const body = building();
    expect((await api('POST', `/nodes/${n}/instances`, body)).status).toBe(201);
    expect([200, 204]).toContain(await release(`/nodes/${n}/instances/${body.instanceUuid}`));
    expect(await used(n)).toBe('0/0/0 running 0');
    const before = await scan();
    const again = await api('POST', `/nodes/${n}/instances`, body);
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('InstanceConflict');
    expect(again.body.message).toMatch(
      new RegExp(
        `^Instance ${body.instanceUuid} was released on node ${n} at \\d{4}-\\d\\d-\\d\\dT.*Z; this request repeats the released claim\\.`,
      ),
    );
    expect(again.body.message).toContain('15 minutes');
    expect(await scan()).toEqual(before);
    expect(await used(n)).toBe('0/0/0 running 0');
    expect((await api('GET', `/nodes/${n}/instances/${body.instanceUuid}`)).status).toBe(404);
  });

  test('a new claim of the instance (an unshelve) is taken', async () => {
    const n = await node();
    const body = building();
    expect((await api('POST', `/nodes/${n}/instances`, body)).status).toBe(201);
    expect([200, 204]).toContain(await release(`/nodes/${n}/instances/${body.instanceUuid}`));
    const unshelve = { ...body, vmState: 'shelved_offloaded', taskState: 'spawning' };
    expect((await api('POST', `/nodes/${n}/instances`, unshelve)).status).toBe(201);
    expect(await used(n)).toBe('128/1/1 running 1');
    // Its retry is the usual retry of a live claim.
    expect((await api('POST', `/nodes/${n}/instances`, unshelve)).status).toBe(200);
    expect(await used(n)).toBe('128/1/1 running 1');
  });

  test('the same request on another node (a reschedule) is taken', async () => {
    const [a, b] = [await node(), await node()];
    const body = building();
    expect((await api('POST', `/nodes/${a}/instances`, body)).status).toBe(201);
    expect([200, 204]).toContain(await release(`/nodes/${a}/instances/${body.instanceUuid}`));
    expect((await api('POST', `/nodes/${b}/instances`, body)).status).toBe(201);
    expect(await used(b)).toBe('128/1/1 running 1');
    expect(await used(a)).toBe('0/0/0 running 0');
  });
});

describe('a released claim with PCI devices, its devices taken since', () => {
  const NIC = { address: '0000:81:00.0', vendorId: '8086', productId: '1520', numaNode: 0 };
  const pciRequests = [{ count: 1, spec: [{ vendorId: '8086', productId: '1520' }] }];

  test('sent again is 409 InstanceConflict; a new claim of it is refused for want of devices, not a conflict', async () => {
    const n = `released-${++seq}`;
    expect((await api('PUT', `/nodes/${n}`, { ...N0, pciDevices: [NIC] })).status).toBe(201);
    const body = { ...building(), pciRequests };
    expect((await api('POST', `/nodes/${n}/instances`, body)).status).toBe(201);
    expect((await api('DELETE', `/nodes/${n}/instances/${body.instanceUuid}`)).status).toBe(204);
    const other = { ...building(), pciRequests };
    expect((await api('POST', `/nodes/${n}/instances`, other)).status).toBe(201);
    const before = await scan();
    // The device is gone, so the claim reads the owner item to tell its own claim from a conflict.
    const again = await api('POST', `/nodes/${n}/instances`, body);
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('InstanceConflict');
    expect(again.body.message).toContain('this request repeats the released claim');
    const unshelve = await api('POST', `/nodes/${n}/instances`, { ...body, vmState: 'shelved_offloaded' });
    expect(unshelve.status).toBe(409);
    expect(unshelve.body).toMatchObject({ error: 'InsufficientResources' });
    expect(await scan()).toEqual(before);
    expect(await used(n)).toBe('128/1/1 running 1');
  });
});

describe('after the release window', () => {
  // The handlers' store, with a window of 1 s (StoreConfig.releaseWindowS); a fresh one afterwards.
  const runtime = () => import('../../lib/api/runtime');
  beforeAll(async () => {
    (await runtime()).runtime().store.releaseWindowS = 1;
  });
  afterAll(async () => (await runtime()).resetRuntime());

  test.each(releases)('a claim released by %s may be sent again', async (_, release) => {
    const n = await node();
    const body = building();
    expect((await api('POST', `/nodes/${n}/instances`, body)).status).toBe(201);
    expect([200, 204]).toContain(await release(`/nodes/${n}/instances/${body.instanceUuid}`));
    await new Promise((r) => setTimeout(r, 2_200));
    expect((await api('POST', `/nodes/${n}/instances`, body)).status).toBe(201);
    expect(await used(n)).toBe('128/1/1 running 1');
  });
});

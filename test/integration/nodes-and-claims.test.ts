import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { F1, F2, N0, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('claims');
});

let seq = 0;
const nextNode = () => `node-${++seq}`;

async function node(id: string, inventory: object = N0) {
  const res = await api('PUT', `/nodes/${id}`, inventory);
  expect([200, 201]).toContain(res.status);
  return res.body;
}

const claim = (nodeId: string, body: object, headers?: Record<string, string>) =>
  api('POST', `/nodes/${nodeId}/instances`, body, headers);

describe('nodes', () => {
  test('registering answers 201 with the node view, replacing answers 200', async () => {
    const id = nextNode();
    const first = await api('PUT', `/nodes/${id}`, N0);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      nodeId: id,
      vcpus: 4,
      memoryMb: 512,
      localGb: 6,
      vcpusUsed: 0,
      memoryMbUsed: 0,
      localGbUsed: 0,
      freeRamMb: 512,
      freeDiskGb: 6,
      runningVms: 0,
      currentWorkload: 0,
      limits: { vcpus: 64, memoryMb: 768, diskGb: 6 },
      generation: 1,
      pciDevicePools: [],
    });
    const second = await api('PUT', `/nodes/${id}`, N0);
    expect(second.status).toBe(200);
    expect(second.body.generation).toBe(2);
  });

  test('defaults are Nova’s: ratios 16 / 1.5 / 1 and 512 MB reserved, which counts as used', async () => {
    const id = nextNode();
    const res = await api('PUT', `/nodes/${id}`, { vcpus: 8, memoryMb: 4096, localGb: 100 });
    expect(res.body).toMatchObject({
      cpuAllocationRatio: 16,
      ramAllocationRatio: 1.5,
      diskAllocationRatio: 1,
      reservedHostMemoryMb: 512,
      reservedHostDiskMb: 0,
      reservedHostCpus: 0,
      memoryMbUsed: 512,
      freeRamMb: 3584,
    });
  });

  test('GET, list and delete', async () => {
    const id = nextNode();
    await node(id);
    expect((await api('GET', `/nodes/${id}`)).body.nodeId).toBe(id);
    const list = await api('GET', '/nodes');
    expect(list.status).toBe(200);
    expect(list.body.nodes.map((n: { nodeId: string }) => n.nodeId)).toContain(id);
    expect((await api('DELETE', `/nodes/${id}`)).status).toBe(204);
    const gone = await api('GET', `/nodes/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error).toBe('NodeNotFound');
    expect((await api('DELETE', `/nodes/${id}`)).body.error).toBe('NodeNotFound');
  });

  test('a node that tracks instances cannot be deleted', async () => {
    const id = nextNode();
    await node(id);
    const i = uuid();
    await claim(id, { instanceUuid: i, flavor: F1 });
    const res = await api('DELETE', `/nodes/${id}`);
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('NodeInUse');
    await api('DELETE', `/nodes/${id}/instances/${i}`);
    expect((await api('DELETE', `/nodes/${id}`)).status).toBe(204);
  });

  test('replacing inventory keeps tracked usage; a shrink below usage makes free negative and refuses claims', async () => {
    const id = nextNode();
    await node(id);
    await claim(id, { instanceUuid: uuid(), flavor: F2 });
    const shrunk = await api('PUT', `/nodes/${id}`, { ...N0, memoryMb: 128, localGb: 2 });
    expect(shrunk.body).toMatchObject({
      memoryMbUsed: 256,
      localGbUsed: 5,
      vcpusUsed: 2,
      freeRamMb: -128,
      freeDiskGb: -3,
    });
    const refused = await claim(id, { instanceUuid: uuid(), flavor: { vcpus: 0, memoryMb: 0, rootGb: 0 } });
    expect(refused.status).toBe(409);
    expect(refused.body.reasons).toEqual([
      'Free memory -64.00 MB < requested 0 MB',
      'Free disk -3.00 GB < requested 0 GB',
    ]);
    await expectLedgerExact(store, id);
  });

  test('changing what the host reserves moves usage by the difference', async () => {
    const id = nextNode();
    await node(id);
    await claim(id, { instanceUuid: uuid(), flavor: F1 });
    const res = await api('PUT', `/nodes/${id}`, {
      ...N0,
      reservedHostMemoryMb: 100,
      reservedHostDiskMb: 2048,
      reservedHostCpus: 1,
    });
    expect(res.body).toMatchObject({ memoryMbUsed: 228, localGbUsed: 3, vcpusUsed: 2 });
    await expectLedgerExact(store, id);
  });
});

describe('instance claims', () => {
  test('a claim answers 201 with its figures and the node view, and is recorded', async () => {
    const id = nextNode();
    await node(id);
    const i = uuid();
    const res = await claim(id, {
      instanceUuid: i,
      flavor: { vcpus: 1, memoryMb: 128, rootGb: 1, ephemeralGb: 1, swapMb: 512 },
      overhead: { memoryMb: 8 },
      projectId: 'p1',
      osType: 'linux',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      nodeId: id,
      instanceUuid: i,
      memoryMb: 136,
      diskGb: 2.5,
      vcpus: 1,
      pciDevices: [],
      vmState: 'building',
      taskState: 'scheduling',
    });
    expect(res.body.node).toMatchObject({ memoryMbUsed: 136, localGbUsed: 2.5, vcpusUsed: 1, freeDiskGb: 3.5 });
    expect(res.body.node.stats).toMatchObject({
      num_instances: 1,
      num_vm_building: 1,
      num_task_scheduling: 1,
      io_workload: 1,
    });
    expect(res.body.node.currentWorkload).toBe(1);
    const got = await api('GET', `/nodes/${id}/instances/${i}`);
    expect(got.body).toMatchObject({ instanceUuid: i, memoryMb: 136, projectId: 'p1', osType: 'linux' });
    expect(got.body.fingerprint).toBeUndefined();
    const list = await api('GET', `/nodes/${id}/instances`);
    expect(list.body.instances.map((x: { instanceUuid: string }) => x.instanceUuid)).toEqual([i]);
    await expectLedgerExact(store, id);
  });

  test('a volume-backed root disk is not counted', async () => {
    const id = nextNode();
    await node(id);
    const res = await claim(id, { instanceUuid: uuid(), flavor: F2, volumeBacked: true });
    expect(res.body.diskGb).toBe(0);
    expect(res.body.node.localGbUsed).toBe(0);
  });

  test('Prefer: return=minimal leaves the node view out', async () => {
    const id = nextNode();
    await node(id);
    const res = await claim(id, { instanceUuid: uuid(), flavor: F1 }, { prefer: 'return=minimal' });
    expect(res.status).toBe(201);
    expect(res.body.node).toBeUndefined();
    expect(res.body.memoryMb).toBe(128);
  });

  test('a retry of the same claim answers 200 with the same claim and changes nothing', async () => {
    const id = nextNode();
    await node(id);
    const body = { instanceUuid: uuid(), flavor: F1 };
    const first = await claim(id, body);
    const again = await claim(id, { ...body, instanceUuid: body.instanceUuid.toUpperCase() });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, node: again.body.node });
    expect(again.body.node).toEqual(first.body.node);
  });

  test('the same instance with a different request, or on another node, is a conflict', async () => {
    const a = nextNode();
    const b = nextNode();
    await node(a);
    await node(b);
    const i = uuid();
    await claim(a, { instanceUuid: i, flavor: F1 });
    const different = await claim(a, { instanceUuid: i, flavor: F2 });
    expect(different.status).toBe(409);
    expect(different.body.error).toBe('InstanceConflict');
    const elsewhere = await claim(b, { instanceUuid: i, flavor: F1 });
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.body).toMatchObject({
      error: 'InstanceConflict',
      message: `Instance ${i} is already claimed on node ${a}.`,
    });
    expect((await api('GET', `/nodes/${b}`)).body.vcpusUsed).toBe(0);
  });

  test('a claim on an unknown node is 404 and writes nothing', async () => {
    const i = uuid();
    const res = await claim('no-such-node', { instanceUuid: i, flavor: F1 });
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('NodeNotFound');
    const id = nextNode();
    await node(id);
    expect((await claim(id, { instanceUuid: i, flavor: F1 })).status).toBe(201);
  });

  test('refusals carry Nova’s message and every reason, and change nothing', async () => {
    const id = nextNode();
    const before = await node(id);
    const res = await claim(id, { instanceUuid: uuid(), flavor: { vcpus: 65, memoryMb: 769, rootGb: 7 } });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: 'InsufficientResources',
      message:
        'Insufficient compute resources: Free memory 768.00 MB < requested 769 MB; Free disk 6.00 GB < requested 7 GB; Free vcpu 64.00 VCPU < requested 65 VCPU.',
      reasons: [
        'Free memory 768.00 MB < requested 769 MB',
        'Free disk 6.00 GB < requested 7 GB',
        'Free vcpu 64.00 VCPU < requested 65 VCPU',
      ],
    });
    expect((await api('GET', `/nodes/${id}`)).body).toEqual(before);
  });

  test('limits in the request replace the node’s, and null turns a test off', async () => {
    const id = nextNode();
    await node(id);
    const capped = await claim(id, { instanceUuid: uuid(), flavor: F1, limits: { memoryMb: 100 } });
    expect(capped.body.message).toBe('Insufficient compute resources: Free memory 100.00 MB < requested 128 MB.');
    const huge = { vcpus: 1, memoryMb: 10_000, rootGb: 1 };
    expect((await claim(id, { instanceUuid: uuid(), flavor: huge, limits: { memoryMb: null } })).status).toBe(201);
    const raised = await claim(id, { instanceUuid: uuid(), flavor: F1, limits: { memoryMb: 10_128 } });
    expect(raised.status).toBe(201);
    await expectLedgerExact(store, id);
  });

  test('a claim asking for PCI devices fails with Claim pci failed after the other reasons', async () => {
    const id = nextNode();
    await node(id);
    const res = await claim(id, {
      instanceUuid: uuid(),
      flavor: F1,
      limits: { vcpus: 0 },
      pciRequests: [{ count: 1, spec: [{ vendorId: '8086' }] }],
    });
    expect(res.status).toBe(409);
    expect(res.body.message).toBe(
      'Insufficient compute resources: Free vcpu 0.00 VCPU < requested 1 VCPU; Claim pci failed.',
    );
  });
});

describe('state changes and releases', () => {
  test('a state change moves the stats and keeps the claim', async () => {
    const id = nextNode();
    await node(id);
    const i = uuid();
    await claim(id, { instanceUuid: i, flavor: F1, projectId: 'p' });
    const res = await api('PATCH', `/nodes/${id}/instances/${i}`, { vmState: 'active', taskState: 'image_snapshot' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ vmState: 'active', taskState: 'image_snapshot', tracked: true, version: 2 });
    const view = (await api('GET', `/nodes/${id}`)).body;
    // The keys of the state it left are gone, not at 0 (rule S6).
    expect(view.stats).toEqual({
      num_instances: 1,
      num_vm_active: 1,
      num_task_image_snapshot: 1,
      num_os_type_None: 1,
      num_proj_p: 1,
      io_workload: 1,
    });
    expect(view).toMatchObject({ memoryMbUsed: 128, runningVms: 1, currentWorkload: 1 });
  });

  test('deleted releases exactly what the claim took and stops tracking', async () => {
    const id = nextNode();
    await node(id);
    const keep = uuid();
    const gone = uuid();
    await claim(id, { instanceUuid: keep, flavor: F1 });
    await claim(id, { instanceUuid: gone, flavor: F2, overhead: { memoryMb: 3 } });
    const res = await api('PATCH', `/nodes/${id}/instances/${gone}`, { vmState: 'deleted' });
    expect(res.body).toMatchObject({ vmState: 'deleted', tracked: false });
    expect((await api('GET', `/nodes/${id}`)).body).toMatchObject({
      memoryMbUsed: 128,
      localGbUsed: 1,
      vcpusUsed: 1,
      runningVms: 1,
    });
    expect((await api('GET', `/nodes/${id}/instances/${gone}`)).status).toBe(404);
    expect((await api('PATCH', `/nodes/${id}/instances/${gone}`, { vmState: 'active' })).body.error).toBe(
      'InstanceNotFound',
    );
    await expectLedgerExact(store, id);
  });

  test('a released instance may be claimed again (unshelve)', async () => {
    const id = nextNode();
    await node(id);
    const i = uuid();
    await claim(id, { instanceUuid: i, flavor: F1 });
    await api('PATCH', `/nodes/${id}/instances/${i}`, { vmState: 'shelved_offloaded' });
    const again = await claim(id, { instanceUuid: i, flavor: F1, taskState: 'unshelving' });
    expect(again.status).toBe(201);
    expect(again.body.node.stats).toMatchObject({ num_instances: 1, num_task_unshelving: 1 });
  });

  test('DELETE releases, and again is a no-op 204', async () => {
    const id = nextNode();
    await node(id);
    const i = uuid();
    await claim(id, { instanceUuid: i, flavor: F2 });
    expect((await api('DELETE', `/nodes/${id}/instances/${i}`)).status).toBe(204);
    const after = (await api('GET', `/nodes/${id}`)).body;
    expect(after).toMatchObject({ memoryMbUsed: 0, localGbUsed: 0, vcpusUsed: 0, runningVms: 0 });
    expect((await api('DELETE', `/nodes/${id}/instances/${i}`)).status).toBe(204);
    expect((await api('GET', `/nodes/${id}`)).body).toEqual(after);
  });
});

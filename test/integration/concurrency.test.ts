// Many claims and releases at once on one node: the conditions alone must keep the ledger exact.
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { ONE_VCPU, roomForVcpus, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('concurrency');
});

const claim = (nodeId: string, instanceUuid = uuid()) =>
  api('POST', `/nodes/${nodeId}/instances`, { instanceUuid, flavor: ONE_VCPU }, { prefer: 'return=minimal' });

const count = (statuses: number[], s: number) => statuses.filter((x) => x === s).length;

test('64 parallel claims of 1 vCPU on a node with room for 20: exactly 20 land', async () => {
  await api('PUT', '/nodes/room-20', roomForVcpus(20));
  const replies = await Promise.all(Array.from({ length: 64 }, () => claim('room-20')));
  const statuses = replies.map((r) => r.status);
  expect(count(statuses, 201)).toBe(20);
  expect(count(statuses, 409)).toBe(44);
  for (const r of replies.filter((x) => x.status === 409)) {
    expect(r.body.error).toBe('InsufficientResources');
    expect(r.body.message).toBe('Insufficient compute resources: Free vcpu 0.00 VCPU < requested 1 VCPU.');
  }
  const { node, instances } = await expectLedgerExact(store, 'room-20');
  expect(instances).toHaveLength(20);
  expect(node.vcpusUsed).toBe(20);
  const landed = new Set(replies.filter((r) => r.status === 201).map((r) => r.body.instanceUuid));
  expect(new Set(instances.map((i) => i.instanceUuid))).toEqual(landed);
});

test('claims and releases interleaved: never over the limit, usage = sum of the records', async () => {
  await api('PUT', '/nodes/churn', roomForVcpus(10));
  const held: string[] = [];
  for (let i = 0; i < 10; i++) {
    const id = uuid();
    expect((await claim('churn', id)).status).toBe(201);
    held.push(id);
  }
  // Release the 10 held instances while 40 new claims race for the room they free.
  const releases = held.map((id) => api('DELETE', `/nodes/churn/instances/${id}`));
  const claims = Array.from({ length: 40 }, () => claim('churn'));
  const [released, claimed] = await Promise.all([Promise.all(releases), Promise.all(claims)]);
  expect(released.every((r) => r.status === 204)).toBe(true);
  const landed = claimed.filter((r) => r.status === 201).length;
  expect(landed).toBeLessThanOrEqual(10);
  expect(landed + claimed.filter((r) => r.status === 409).length).toBe(40);
  const { node, instances } = await expectLedgerExact(store, 'churn');
  expect(instances).toHaveLength(landed);
  expect(node.vcpusUsed).toBe(landed);
  expect(node.vcpusUsed).toBeLessThanOrEqual(10);
});

test('state changes racing each other and a release lose nothing', async () => {
  await api('PUT', '/nodes/states', roomForVcpus(8));
  const ids = Array.from({ length: 8 }, () => uuid());
  await Promise.all(ids.map((id) => claim('states', id)));
  const ops = ids.flatMap((id, n) => [
    api('PATCH', `/nodes/states/instances/${id}`, { vmState: 'active', taskState: null }),
    api('PATCH', `/nodes/states/instances/${id}`, { taskState: 'image_snapshot' }),
    n % 2
      ? api('DELETE', `/nodes/states/instances/${id}`)
      : api('PATCH', `/nodes/states/instances/${id}`, { osType: 'linux' }),
  ]);
  const replies = await Promise.all(ops);
  // A PATCH that lands after the DELETE finds nothing to change.
  for (const r of replies) expect([200, 204, 404]).toContain(r.status);
  const { node, instances } = await expectLedgerExact(store, 'states');
  expect(instances).toHaveLength(4);
  const view = (await api('GET', '/nodes/states')).body;
  expect(view.stats.num_instances).toBe(4);
  expect(view.runningVms).toBe(4);
  const perVm = Object.entries(view.stats as Record<string, number>)
    .filter(([k]) => k.startsWith('num_vm_'))
    .reduce((s, [, v]) => s + v, 0);
  const perTask = Object.entries(view.stats as Record<string, number>)
    .filter(([k]) => k.startsWith('num_task_'))
    .reduce((s, [, v]) => s + v, 0);
  expect(perVm).toBe(4);
  expect(perTask).toBe(4);
  expect(node.vcpusUsed).toBe(4);
});

/** Sends every change to every instance at once; each answers 200 and every record then shows them all. */
async function changeAllAtOnce(nodeId: string, ids: string[], changes: object[]): Promise<void> {
  const replies = await Promise.all(
    ids.flatMap((id) => changes.map((c) => api('PATCH', `/nodes/${nodeId}/instances/${id}`, c))),
  );
  expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
  const all = Object.assign({}, ...changes) as object;
  for (const id of ids) expect((await api('GET', `/nodes/${nodeId}/instances/${id}`)).body).toMatchObject(all);
}

test('state changes to different fields of one instance, all at once, each land (no change overwrites another)', async () => {
  await api('PUT', '/nodes/fields', roomForVcpus(8));
  const ids = Array.from({ length: 8 }, () => uuid());
  await Promise.all(ids.map((id) => claim('fields', id)));
  // None of these can release the claim, so each is one UpdateItem of its own field: none writes back
  // another's field as it read it.
  await changeAllAtOnce('fields', ids, [
    { taskState: 'image_snapshot' },
    { osType: 'linux' },
    { projectId: 'p1' },
    { vmState: 'stopped' },
  ]);
  await expectLedgerExact(store, 'fields');
});

test('on a record being unshelved, a task change (read, then written on the version) races changes written in place: all land', async () => {
  await api('PUT', '/nodes/unshelve', roomForVcpus(8));
  const ids = Array.from({ length: 6 }, () => uuid());
  const unshelving = { flavor: ONE_VCPU, vmState: 'shelved_offloaded', taskState: 'spawning' };
  for (const id of ids)
    expect((await api('POST', '/nodes/unshelve/instances', { ...unshelving, instanceUuid: id })).status).toBe(201);
  // A new task state could release a shelved_offloaded record (rule M9), so that change reads first; the others
  // cannot and are written in place. The read one must start over when an in-place change bumps the version.
  await changeAllAtOnce('unshelve', ids, [{ taskState: 'unshelving' }, { osType: 'linux' }, { projectId: 'p2' }]);
  const shelved = await api('GET', `/nodes/unshelve/instances/${ids[1]}`);
  expect(shelved.body.vmState).toBe('shelved_offloaded');
  expect((await expectLedgerExact(store, 'unshelve')).node.vcpusUsed).toBe(6);
  // The unshelve ends without a task: shelved_offloaded then consumes nothing, and the claim is released.
  const released = await api('PATCH', `/nodes/unshelve/instances/${ids[0]}`, { taskState: null });
  expect(released.status).toBe(200);
  expect((await api('GET', `/nodes/unshelve/instances/${ids[0]}`)).status).toBe(404);
  expect((await expectLedgerExact(store, 'unshelve')).node.vcpusUsed).toBe(5);
});

test('one claim sent 5 times in parallel is claimed once', async () => {
  await api('PUT', '/nodes/dupes', roomForVcpus(20));
  const id = uuid();
  const replies = await Promise.all(Array.from({ length: 5 }, () => claim('dupes', id)));
  const statuses = replies.map((r) => r.status).sort();
  expect(statuses).toEqual([200, 200, 200, 200, 201]);
  for (const r of replies) expect(r.body).toMatchObject({ instanceUuid: id, vcpus: 1 });
  const { node, instances } = await expectLedgerExact(store, 'dupes');
  expect(instances).toHaveLength(1);
  expect(node.vcpusUsed).toBe(1);
});

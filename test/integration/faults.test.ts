// Conflicts, throttling, 5xx and lost responses: each ends with the ledger exact and nothing counted twice.
import { runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { F1, N0, uuid } from '../support/fixtures';
import { injectFaults, WRITES } from '../support/faults';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
let remove: (() => void) | undefined;
beforeAll(async () => {
  await freshTable('faults');
  store = runtime().store; // the handlers' own client, so the faults hit them
});
afterEach(() => {
  remove?.();
  remove = undefined;
});

let seq = 0;
async function node() {
  const id = `fault-${++seq}`;
  await api('PUT', `/nodes/${id}`, N0);
  return id;
}

test.each(['conflict', 'throttle', 'server-error'] as const)(
  'a claim that meets %s on its first attempts still lands exactly once',
  async (fault) => {
    const id = await node();
    const faults = injectFaults(store, { command: 'TransactWriteItemsCommand', fault, times: 3 });
    remove = faults.remove;
    const res = await api('POST', `/nodes/${id}/instances`, { instanceUuid: uuid(), flavor: F1 });
    expect(res.status).toBe(201);
    expect(faults.state.injected).toBe(3);
    expect(faults.state.sent).toBe(4);
    const { node: item, instances } = await expectLedgerExact(store, id);
    expect(instances).toHaveLength(1);
    expect(item.vcpusUsed).toBe(1);
    expect(item.generation).toBe(2);
  },
);

test('a claim whose response is lost after it committed is not claimed twice', async () => {
  const id = await node();
  const faults = injectFaults(store, { command: 'TransactWriteItemsCommand', fault: 'lost-response', times: 1 });
  remove = faults.remove;
  const res = await api('POST', `/nodes/${id}/instances`, { instanceUuid: uuid(), flavor: F1 });
  expect(res.status).toBe(201);
  const { node: item, instances } = await expectLedgerExact(store, id);
  expect(instances).toHaveLength(1);
  expect(item.memoryMbUsed).toBe(128);
});

test('a release whose response is lost after it committed frees once', async () => {
  const id = await node();
  const keep = uuid();
  const drop = uuid();
  await api('POST', `/nodes/${id}/instances`, { instanceUuid: keep, flavor: F1 });
  await api('POST', `/nodes/${id}/instances`, { instanceUuid: drop, flavor: F1 });
  const faults = injectFaults(store, { command: 'TransactWriteItemsCommand', fault: 'lost-response', times: 1 });
  remove = faults.remove;
  expect((await api('DELETE', `/nodes/${id}/instances/${drop}`)).status).toBe(204);
  const { node: item, instances } = await expectLedgerExact(store, id);
  expect(instances.map((i) => i.instanceUuid)).toEqual([keep]);
  expect(item.memoryMbUsed).toBe(128);
});

test('a state change that meets conflicts lands once', async () => {
  const id = await node();
  const i = uuid();
  await api('POST', `/nodes/${id}/instances`, { instanceUuid: i, flavor: F1 });
  const faults = injectFaults(store, { command: 'TransactWriteItemsCommand', fault: 'conflict', times: 2 });
  remove = faults.remove;
  const res = await api('PATCH', `/nodes/${id}/instances/${i}`, { vmState: 'active' });
  expect(res.body).toMatchObject({ vmState: 'active', version: 2 });
  const view = (await api('GET', `/nodes/${id}`)).body;
  // Computed from the record (rule S6): the state it left has no key at 0.
  expect(view.stats).toMatchObject({ num_instances: 1, num_vm_active: 1 });
  expect(view.stats.num_vm_building).toBeUndefined();
});

test('when the store keeps refusing, the answer is 503 Unavailable with Retry-After and nothing changes', async () => {
  const id = await node();
  const before = (await api('GET', `/nodes/${id}`)).body;
  const faults = injectFaults(store, { command: 'TransactWriteItemsCommand', fault: 'throttle', times: Infinity });
  remove = faults.remove;
  const res = await api('POST', `/nodes/${id}/instances`, { instanceUuid: uuid(), flavor: F1 });
  expect(res.status).toBe(503);
  expect(res.body.error).toBe('Unavailable');
  expect(res.headers['retry-after']).toBe('1');
  expect(faults.state.injected).toBe(8);
  faults.remove();
  expect((await api('GET', `/nodes/${id}`)).body).toEqual(before);
});

test.each([
  ['finished', 'holds change hands'],
  ['migrating', 'only the status moves on'],
] as const)(
  'a status change (%s: %s) whose response is lost after it committed answers applied, once',
  async (status, _why) => {
    const [a, b] = [await node(), await node()];
    const instanceUuid = uuid();
    await api('POST', `/nodes/${a}/instances`, { instanceUuid, flavor: F1 });
    const migrationId = `lost-${status}-${seq}`;
    expect(
      (
        await api('POST', `/nodes/${b}/move-claims`, {
          migrationId,
          instanceUuid,
          moveType: 'migration',
          sourceNodeId: a,
        })
      ).status,
    ).toBe(201);
    const faults = injectFaults(store, { command: WRITES, fault: 'lost-response', times: 1 });
    remove = faults.remove;
    const res = await api('POST', `/migrations/${migrationId}/status`, { status, sequence: 1 });
    expect(faults.state.injected).toBe(1);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status, sequence: 1, applied: true });
    // A real repeat of the same update is still told apart.
    expect((await api('POST', `/migrations/${migrationId}/status`, { status, sequence: 1 })).body).toMatchObject({
      applied: false,
    });
    const [src, dst] = [await expectLedgerExact(store, a), await expectLedgerExact(store, b)];
    expect([src.instances.length, dst.instances.length]).toEqual(status === 'finished' ? [0, 1] : [1, 0]);
  },
);

// Status changes racing each other, claims and state changes on the same nodes: usage stays exact.
import { runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { F1, F2, uuid } from '../support/fixtures';
import { injectFaults } from '../support/faults';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  await freshTable('moves-race');
  store = runtime().store;
});

const ROOMY = {
  vcpus: 64,
  memoryMb: 4096,
  localGb: 64,
  cpuAllocationRatio: 1,
  ramAllocationRatio: 1,
  reservedHostMemoryMb: 0,
};
const claim = (nodeId: string, flavor = F1, instanceUuid = uuid()) =>
  api(
    'POST',
    `/nodes/${nodeId}/instances`,
    { instanceUuid, flavor, vmState: 'active', taskState: null },
    { prefer: 'return=minimal' },
  );
const status = (m: string, s: string, sequence?: number) =>
  api('POST', `/migrations/${m}/status`, { status: s, ...(sequence ? { sequence } : {}) });

test('resizes, their statuses and new claims racing on the same two nodes never lose or double a hold', async () => {
  await api('PUT', '/nodes/race-a', ROOMY);
  await api('PUT', '/nodes/race-b', ROOMY);
  const moving = await Promise.all(
    Array.from({ length: 6 }, async (_, n) => {
      const i = uuid();
      expect((await claim('race-a', F1, i)).status).toBe(201);
      const m = `race-${n}`;
      expect(
        (
          await api('POST', '/nodes/race-b/move-claims', {
            migrationId: m,
            instanceUuid: i,
            moveType: 'resize',
            sourceNodeId: 'race-a',
            newFlavor: F2,
          })
        ).status,
      ).toBe(201);
      return m;
    }),
  );
  // Every migration walks to confirmed or reverted while each status is sent three times at once,
  // and new claims keep landing on both nodes.
  const walks = moving.map(async (m, n) => {
    for (const [s, q] of [
      ['migrating', 1],
      ['finished', 2],
      [n % 2 ? 'confirmed' : 'reverted', 3],
    ] as const) {
      const replies = await Promise.all([status(m, s, q), status(m, s, q), status(m, s, q)]);
      expect(replies.map((r) => [r.status, r.body.error, r.body.message])).toEqual([
        [200, undefined, undefined],
        [200, undefined, undefined],
        [200, undefined, undefined],
      ]);
      expect(replies.filter((r) => r.body.applied).length).toBe(1);
    }
  });
  const claims = Array.from({ length: 10 }, (_, n) => claim(n % 2 ? 'race-a' : 'race-b'));
  const [, landed] = await Promise.all([Promise.all(walks), Promise.all(claims)]);
  expect(landed.map((r) => [r.status, r.body.error])).toEqual(landed.map(() => [201, undefined]));
  const a = await expectLedgerExact(store, 'race-a');
  const b = await expectLedgerExact(store, 'race-b');
  expect(a.holds).toHaveLength(0);
  expect(b.holds).toHaveLength(0);
  // 3 reverted (back on a with F1) + 5 new claims on a; 3 confirmed (on b with F2) + 5 new claims on b.
  expect(a.instances).toHaveLength(8);
  expect(b.instances).toHaveLength(8);
  expect(a.node.memoryMbUsed).toBe(8 * 128);
  expect(b.node.memoryMbUsed).toBe(3 * 256 + 5 * 128);
});

test('a state change racing a status change lands in both, in some order', async () => {
  await api('PUT', '/nodes/state-a', ROOMY);
  await api('PUT', '/nodes/state-b', ROOMY);
  const i = uuid();
  await claim('state-a', F1, i);
  await api('POST', '/nodes/state-b/move-claims', {
    migrationId: 'state-m',
    instanceUuid: i,
    moveType: 'migration',
    sourceNodeId: 'state-a',
  });
  const [patched, moved] = await Promise.all([
    api('PATCH', `/nodes/state-a/instances/${i}`, { taskState: 'resize_migrating' }),
    status('state-m', 'finished'),
  ]);
  expect(moved.body.applied).toBe(true);
  const where = (await api('GET', `/nodes/state-b/instances/${i}`)).body;
  // Either the PATCH landed first and moved with the instance, or it came after the move and found nothing on a.
  if (patched.status === 200) expect(where.taskState).toBe('resize_migrating');
  else expect(patched.body.error).toBe('InstanceNotFound');
  await expectLedgerExact(store, 'state-a');
  await expectLedgerExact(store, 'state-b');
});

test('a status change whose response is lost after it committed is not applied twice', async () => {
  await api('PUT', '/nodes/lost-a', ROOMY);
  await api('PUT', '/nodes/lost-b', ROOMY);
  const i = uuid();
  await claim('lost-a', F1, i);
  await api('POST', '/nodes/lost-b/move-claims', {
    migrationId: 'lost-m',
    instanceUuid: i,
    moveType: 'resize',
    sourceNodeId: 'lost-a',
    newFlavor: F2,
  });
  const faults = injectFaults(store, { command: 'TransactWriteItemsCommand', fault: 'lost-response', times: 1 });
  try {
    const res = await status('lost-m', 'confirmed');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('confirmed');
  } finally {
    faults.remove();
  }
  const a = await expectLedgerExact(store, 'lost-a');
  const b = await expectLedgerExact(store, 'lost-b');
  expect([a.node.memoryMbUsed, b.node.memoryMbUsed]).toEqual([0, 256]);
});

test('a move claim that meets conflicts lands once', async () => {
  await api('PUT', '/nodes/conf-a', ROOMY);
  await api('PUT', '/nodes/conf-b', ROOMY);
  const i = uuid();
  await claim('conf-a', F1, i);
  const faults = injectFaults(store, { command: 'TransactWriteItemsCommand', fault: 'conflict', times: 2 });
  try {
    const res = await api('POST', '/nodes/conf-b/move-claims', {
      migrationId: 'conf-m',
      instanceUuid: i,
      moveType: 'resize',
      sourceNodeId: 'conf-a',
      newFlavor: F2,
    });
    expect(res.status).toBe(201);
  } finally {
    faults.remove();
  }
  const b = await expectLedgerExact(store, 'conf-b');
  expect(b.holds).toHaveLength(1);
  expect(b.node.memoryMbUsed).toBe(256);
});

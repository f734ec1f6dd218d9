// The audit finds and repairs drift from outside, and never undoes a claim that lands while it runs.
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { F1, F2, N0, ONE_VCPU, roomForVcpus, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('audit');
});

let seq = 0;
async function node(inventory: object = N0) {
  const id = `audit-${++seq}`;
  await api('PUT', `/nodes/${id}`, inventory);
  return id;
}
const claim = (nodeId: string, flavor: object = F1, instanceUuid = uuid()) =>
  api(
    'POST',
    `/nodes/${nodeId}/instances`,
    { instanceUuid, flavor, vmState: 'active', taskState: null },
    { prefer: 'return=minimal' },
  );
const audit = (nodeId: string, body: object = {}) => api('POST', `/nodes/${nodeId}/audit`, body);

/** Drift from outside the service: someone wrote the node item by hand. */
async function corrupt(nodeId: string, memoryMbUsed: number, vcpusUsed: number) {
  await store.doc.send(
    new UpdateCommand({
      TableName: store.tableName,
      Key: { pk: `NODE#${nodeId}`, sk: 'NODE' },
      UpdateExpression: 'SET memoryMbUsed = :m, vcpusUsed = :v',
      ExpressionAttributeValues: { ':m': memoryMbUsed, ':v': vcpusUsed },
    }),
  );
}

test('a node whose stored usage was corrupted is repaired and the drift reported', async () => {
  const id = await node();
  await claim(id);
  await claim(id, F2);
  await corrupt(id, 9999, 40);
  const res = await audit(id);
  expect(res.status).toBe(200);
  expect(res.body.drift).toEqual({ memoryMbUsed: 384 - 9999, localGbUsed: 0, vcpusUsed: 3 - 40 });
  expect(res.body.node).toMatchObject({
    memoryMbUsed: 384,
    localGbUsed: 6,
    vcpusUsed: 3,
    runningVms: 2,
    freeRamMb: 128,
  });
  await expectLedgerExact(store, id);
  // Nothing left to repair: the next audit reports no drift.
  expect((await audit(id)).body.drift).toEqual({ memoryMbUsed: 0, localGbUsed: 0, vcpusUsed: 0 });
});

test('the audit recounts reserved amounts as used (the baseline)', async () => {
  const id = await node({ ...N0, reservedHostMemoryMb: 512, reservedHostDiskMb: 1536, reservedHostCpus: 1 });
  await corrupt(id, 0, 0);
  const res = await audit(id);
  expect(res.body.node).toMatchObject({ memoryMbUsed: 512, localGbUsed: 1, vcpusUsed: 1 });
});

test('orphans hold memory only; unknown and missing instances are reported', async () => {
  const id = await node();
  const tracked = uuid();
  const gone = uuid();
  await claim(id, F1, tracked);
  await claim(id, F1, gone);
  const orphan = uuid();
  const stranger = uuid();
  const res = await audit(id, {
    instances: [tracked, orphan, stranger],
    orphans: [{ instanceUuid: orphan, memoryMb: 64 }],
  });
  expect(res.body.drift).toEqual({ memoryMbUsed: 64, localGbUsed: 0, vcpusUsed: 0 });
  expect(res.body.node).toMatchObject({ memoryMbUsed: 320, localGbUsed: 2, vcpusUsed: 2, runningVms: 2 });
  expect(res.body.unknownInstances).toEqual([orphan, stranger].sort());
  expect(res.body.missingInstances).toEqual([gone]);
  await expectLedgerExact(store, id);
  // Orphan memory stays counted until the agent no longer reports the orphan; claims and releases keep it.
  await api('DELETE', `/nodes/${id}/instances/${gone}`);
  expect((await api('GET', `/nodes/${id}`)).body.memoryMbUsed).toBe(192);
  expect((await audit(id, { orphans: [] })).body.drift.memoryMbUsed).toBe(-64);
});

describe('orphans persist until the agent reports otherwise (rule M10)', () => {
  test('an audit without orphans (the scheduled one) keeps them and recounts around them', async () => {
    const id = await node();
    await claim(id);
    const orphan = uuid();
    expect((await audit(id, { orphans: [{ instanceUuid: orphan, memoryMb: 64 }] })).body.drift.memoryMbUsed).toBe(64);
    const scheduled = await audit(id);
    expect(scheduled.body.drift).toEqual({ memoryMbUsed: 0, localGbUsed: 0, vcpusUsed: 0 });
    expect(scheduled.body.node.memoryMbUsed).toBe(192);
    // Drift from outside is repaired around the orphans the agent reported.
    await corrupt(id, 0, 0);
    const repaired = await audit(id);
    expect(repaired.body.node).toMatchObject({ memoryMbUsed: 192, vcpusUsed: 1, runningVms: 1 });
    await expectLedgerExact(store, id);
    // An audit that sends orphans replaces the set.
    const other = uuid();
    const replaced = await audit(id, { orphans: [{ instanceUuid: other, memoryMb: 32 }] });
    expect(replaced.body.drift.memoryMbUsed).toBe(-32);
    expect((await audit(id)).body.node.memoryMbUsed).toBe(160);
    expect((await audit(id, { orphans: [] })).body.node.memoryMbUsed).toBe(128);
    expect((await audit(id)).body.node.memoryMbUsed).toBe(128);
    await expectLedgerExact(store, id);
  });

  test('an orphan that is a tracked instance is not counted, and one listed twice counts once', async () => {
    const id = await node();
    const tracked = uuid();
    await claim(id, F1, tracked);
    const orphan = uuid();
    const res = await audit(id, {
      orphans: [
        { instanceUuid: tracked, memoryMb: 64 },
        { instanceUuid: orphan, memoryMb: 64 },
        { instanceUuid: orphan, memoryMb: 64 },
      ],
    });
    expect(res.body.drift.memoryMbUsed).toBe(64);
    expect(res.body.node.memoryMbUsed).toBe(192);
    expect((await audit(id)).body.drift.memoryMbUsed).toBe(0);
    await expectLedgerExact(store, id);
  });

  test('an orphan claimed later counts once, as the instance, from the next audit on', async () => {
    const id = await node();
    const orphan = uuid();
    await audit(id, { orphans: [{ instanceUuid: orphan, memoryMb: 64 }] });
    expect((await claim(id, F1, orphan)).status).toBe(201);
    // Until an audit looks, the claim and the orphan are both held: never less than the node runs.
    expect((await api('GET', `/nodes/${id}`)).body.memoryMbUsed).toBe(192);
    const res = await audit(id);
    expect(res.body.drift.memoryMbUsed).toBe(-64);
    expect(res.body.node.memoryMbUsed).toBe(128);
    // Released while the hypervisor still reports it: it is an orphan again.
    await api('DELETE', `/nodes/${id}/instances/${orphan}`);
    expect((await audit(id)).body.node.memoryMbUsed).toBe(64);
    await expectLedgerExact(store, id);
  });

  test('an instance moving onto the node (it holds the new size there) is not an orphan', async () => {
    const src = await node();
    const dst = await node();
    const moving = uuid();
    await claim(src, F1, moving);
    const move = await api('POST', `/nodes/${dst}/move-claims`, {
      migrationId: `audit-move-${seq}`,
      instanceUuid: moving,
      moveType: 'migration',
      sourceNodeId: src,
    });
    expect(move.status).toBe(201);
    const res = await audit(dst, { orphans: [{ instanceUuid: moving, memoryMb: 64 }] });
    expect(res.body.drift.memoryMbUsed).toBe(0);
    expect(res.body.node.memoryMbUsed).toBe(128);
  });
});

test('a new inventory in the audit is applied first', async () => {
  const id = await node();
  await claim(id);
  const res = await audit(id, { inventory: { ...N0, memoryMb: 1024 } });
  expect(res.body.node).toMatchObject({ memoryMb: 1024, memoryMbUsed: 128, freeRamMb: 896 });
});

test('an audit racing 50 concurrent claims never loses one', async () => {
  const id = await node(roomForVcpus(100));
  await corrupt(id, 123, 45);
  const claims = Array.from({ length: 50 }, () => claim(id, ONE_VCPU));
  const audits = Array.from({ length: 5 }, () => audit(id));
  const [landed, audited] = await Promise.all([Promise.all(claims), Promise.all(audits)]);
  expect(landed.every((r) => r.status === 201)).toBe(true);
  // An audit that keeps losing the race to claims gives up with 503 (claims never wait for it); on a
  // loaded machine one of the five may. None may answer anything else, and the next one repairs.
  expect(audited.filter((r) => r.status !== 200).map((r) => r.status)).toEqual(
    audited.filter((r) => r.status === 503).map(() => 503),
  );
  expect(audited.some((r) => r.status === 200)).toBe(true);
  expect((await audit(id)).status).toBe(200);
  const { node: item, instances } = await expectLedgerExact(store, id);
  expect(instances).toHaveLength(50);
  expect(item.vcpusUsed).toBe(50);
});

test('at every step of a cross-node resize the audit agrees with the live accounting on both nodes', async () => {
  const a = await node();
  const b = await node();
  const i = uuid();
  await claim(a, F1, i);
  const m = `audit-mig-${seq}`;
  await api('POST', `/nodes/${b}/move-claims`, {
    migrationId: m,
    instanceUuid: i,
    moveType: 'resize',
    sourceNodeId: a,
    newFlavor: F2,
  });
  for (const status of [undefined, 'migrating', 'finished', 'confirming', 'confirmed']) {
    if (status) await api('POST', `/migrations/${m}/status`, { status });
    for (const n of [a, b]) {
      const res = await audit(n);
      expect([status, n, res.body.drift]).toEqual([status, n, { memoryMbUsed: 0, localGbUsed: 0, vcpusUsed: 0 }]);
    }
  }
});

test('an unknown node is 404, bad input 400', async () => {
  expect((await audit('no-such-node')).status).toBe(404);
  const id = await node();
  expect((await audit(id, { instances: ['nope'] })).status).toBe(400);
  expect((await audit(id, { orphans: [{ instanceUuid: uuid(), memoryMb: -1 }] })).status).toBe(400);
});

/** The node item as stored, straight from the table. */
async function nodeItem(nodeId: string) {
  const out = await store.doc.send(
    new GetCommand({ TableName: store.tableName, Key: { pk: `NODE#${nodeId}`, sk: 'NODE' }, ConsistentRead: true }),
  );
  return out.Item ?? {};
}

test('released instances leave no stats key, even before an audit: the view counts the records (rule S6)', async () => {
  const id = await node(roomForVcpus(40));
  const long = (n: number) => `project-${n}-${'x'.repeat(200)}`;
  const gone: string[] = [];
  for (let n = 0; n < 20; n++) {
    const instanceUuid = uuid();
    const body = {
      instanceUuid,
      flavor: ONE_VCPU,
      projectId: long(n),
      osType: `os-${n}`,
      vmState: 'active',
      taskState: null,
    };
    expect((await api('POST', `/nodes/${id}/instances`, body)).status).toBe(201);
    if (n > 0) gone.push(instanceUuid);
  }
  expect((await api('GET', `/nodes/${id}`)).body.stats.num_instances).toBe(20);
  for (const instanceUuid of gone)
    expect((await api('DELETE', `/nodes/${id}/instances/${instanceUuid}`)).status).toBe(204);
  const remaining = {
    num_instances: 1,
    num_vm_active: 1,
    num_task_None: 1,
    [`num_proj_${long(0)}`]: 1,
    'num_os_type_os-0': 1,
    io_workload: 0,
  };
  // Nova shows the released instances' keys at 0 until its audit; here they are gone at once (rule S6).
  expect((await api('GET', `/nodes/${id}`)).body.stats).toEqual(remaining);
  const item = await nodeItem(id);
  expect(item.stats).toBeUndefined();
  const before = Number(item.generation);

  const res = await audit(id);
  expect(res.status).toBe(200);
  expect(res.body.drift).toEqual({ memoryMbUsed: 0, localGbUsed: 0, vcpusUsed: 0 });
  expect(res.body.node.stats).toEqual(remaining);
  // Nothing to drop: the audit writes nothing.
  expect(Number((await nodeItem(id)).generation)).toBe(before);
  await expectLedgerExact(store, id);
});

test('a node item that still stores a stats map (written before rule S6) loses it at its audit, not a repair', async () => {
  const id = await node(roomForVcpus(4));
  const instanceUuid = uuid();
  expect(
    (await api('POST', `/nodes/${id}/instances`, { instanceUuid, flavor: ONE_VCPU, vmState: 'active' })).status,
  ).toBe(201);
  await store.doc.send(
    new UpdateCommand({
      TableName: store.tableName,
      Key: { pk: `NODE#${id}`, sk: 'NODE' },
      UpdateExpression: 'SET stats = :s',
      ExpressionAttributeValues: { ':s': { num_instances: 7, num_proj_gone: 0 } },
    }),
  );
  // The view never reads a stored map: the records decide.
  expect((await api('GET', `/nodes/${id}`)).body.stats).toMatchObject({ num_instances: 1, num_vm_active: 1 });
  const before = Number((await nodeItem(id)).generation);
  const res = await audit(id);
  expect(res.body).toMatchObject({ drift: { memoryMbUsed: 0, vcpusUsed: 0 }, node: { stats: { num_instances: 1 } } });
  expect(res.body.node.stats.num_proj_gone).toBeUndefined();
  const after = await nodeItem(id);
  expect(after.stats).toBeUndefined();
  expect(Number(after.generation)).toBe(before + 1);
  await audit(id);
  expect(Number((await nodeItem(id)).generation)).toBe(before + 1);
  await expectLedgerExact(store, id);
});

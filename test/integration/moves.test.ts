// Resize, cold migration and evacuation: who holds what in every status, on both nodes (rules M7, M8, D4).
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { F1, F2, N0, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('moves');
});

let seq = 0;
const fresh = (prefix: string) => `${prefix}-${++seq}`;

async function nodes(...ids: string[]) {
  for (const id of ids) expect((await api('PUT', `/nodes/${id}`, N0)).status).toBe(201);
}

async function instance(nodeId: string, flavor = F1) {
  const id = uuid();
  const res = await api('POST', `/nodes/${nodeId}/instances`, {
    instanceUuid: id,
    flavor,
    vmState: 'active',
    taskState: null,
  });
  expect(res.status).toBe(201);
  return id;
}

/** "used a/b/c, free x/y" of the worked examples. */
async function usage(nodeId: string) {
  await expectLedgerExact(store, nodeId);
  const n = (await api('GET', `/nodes/${nodeId}`)).body;
  return `${n.memoryMbUsed}/${n.localGbUsed}/${n.vcpusUsed} free ${n.freeRamMb}/${n.freeDiskGb}`;
}

const status = (migrationId: string, s: string, sequence?: number) =>
  api('POST', `/migrations/${migrationId}/status`, sequence === undefined ? { status: s } : { status: s, sequence });

describe('same-host resize (examples 8 and 9)', () => {
  test.each([
    ['confirmed', '256/5/2 free 256/1', F2],
    ['reverted', '128/1/1 free 384/5', F1],
  ])('claim F1, resize to F2 on the same node, then %s', async (final, after, flavor) => {
    const n = fresh('same');
    await nodes(n);
    const i = await instance(n);
    expect(await usage(n)).toBe('128/1/1 free 384/5');
    const m = fresh('mig');
    const claim = await api('POST', `/nodes/${n}/move-claims`, {
      migrationId: m,
      instanceUuid: i,
      moveType: 'resize',
      sourceNodeId: n,
      newFlavor: F2,
    });
    expect(claim.status).toBe(201);
    expect(claim.body.migration).toMatchObject({
      migrationId: m,
      status: 'pre-migrating',
      sourceNodeId: n,
      destNodeId: n,
      oldFlavor: F1,
      newFlavor: F2,
    });
    expect(claim.body.claim).toMatchObject({ nodeId: n, instanceUuid: i, memoryMb: 256, diskGb: 5, vcpus: 2 });
    expect(await usage(n)).toBe('384/6/3 free 128/0');
    const done = await status(m, final);
    expect(done.body).toMatchObject({ status: final, applied: true });
    expect(await usage(n)).toBe(after);
    const record = (await api('GET', `/nodes/${n}/instances/${i}`)).body;
    expect(record.flavor).toEqual(flavor);
    expect(record.migrationId).toBeUndefined();
    expect((await api('GET', `/nodes/${n}`)).body.runningVms).toBe(1);
  });

  test('through finished: old and new stay held until the confirmation', async () => {
    const n = fresh('same');
    await nodes(n);
    const i = await instance(n);
    const m = fresh('mig');
    await api('POST', `/nodes/${n}/move-claims`, {
      migrationId: m,
      instanceUuid: i,
      moveType: 'resize',
      sourceNodeId: n,
      newFlavor: F2,
    });
    for (const s of ['migrating', 'post-migrating', 'finished', 'confirming']) {
      expect((await status(m, s)).body.applied).toBe(true);
      expect(await usage(n)).toBe('384/6/3 free 128/0');
    }
    expect((await api('GET', `/nodes/${n}/instances/${i}`)).body).toMatchObject({
      flavor: F2,
      memoryMb: 256,
      migrationId: m,
    });
    await status(m, 'confirmed');
    expect(await usage(n)).toBe('256/5/2 free 256/1');
  });
});

/** Every item of the table, as text: what a refused request must leave exactly as it was. */
async function everything(): Promise<string[]> {
  const out = await store.doc.send(new ScanCommand({ TableName: store.tableName, ConsistentRead: true }));
  return (out.Items ?? []).map((i) => JSON.stringify(i, Object.keys(i).sort())).sort();
}

describe('moves onto the same node (rule M6)', () => {
  test.each(['migration', 'evacuation'])(
    'a %s onto its own node is 409 InvalidMove, nothing written',
    async (moveType) => {
      const n = fresh('self');
      await nodes(n);
      const i = await instance(n);
      const before = await everything();
      const m = fresh('mig');
      const res = await api('POST', `/nodes/${n}/move-claims`, {
        migrationId: m,
        instanceUuid: i,
        moveType,
        sourceNodeId: n,
      });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({
        error: 'InvalidMove',
        message: `Instance ${i} is already on node ${n}: a move of type ${moveType} needs another node as its destination; only a resize may stay on the same node.`,
      });
      expect(await everything()).toEqual(before);
      expect((await api('GET', `/migrations/${m}`)).status).toBe(404);
      expect(await usage(n)).toBe('128/1/1 free 384/5');
    },
  );

  test('a resize onto its own node stays allowed', async () => {
    const n = fresh('self');
    await nodes(n);
    const i = await instance(n);
    const res = await api('POST', `/nodes/${n}/move-claims`, {
      migrationId: fresh('mig'),
      instanceUuid: i,
      moveType: 'resize',
      sourceNodeId: n,
      newFlavor: F1,
    });
    expect(res.status).toBe(201);
  });
});

describe('cross-node resize', () => {
  async function start() {
    const [a, b] = [fresh('src'), fresh('dst')];
    await nodes(a, b);
    const i = await instance(a);
    const m = fresh('mig');
    const claim = await api('POST', `/nodes/${b}/move-claims`, {
      migrationId: m,
      instanceUuid: i,
      moveType: 'resize',
      sourceNodeId: a,
      newFlavor: F2,
    });
    expect(claim.status).toBe(201);
    return { a, b, i, m };
  }

  test('every status, then confirmed: the source keeps the old size until the confirmation', async () => {
    const { a, b, i, m } = await start();
    const steps: [string, string, string, string][] = [
      ['pre-migrating', '128/1/1 free 384/5', '256/5/2 free 256/1', 'a'],
      ['migrating', '128/1/1 free 384/5', '256/5/2 free 256/1', 'a'],
      ['post-migrating', '128/1/1 free 384/5', '256/5/2 free 256/1', 'a'],
      ['finished', '128/1/1 free 384/5', '256/5/2 free 256/1', 'b'],
      ['confirming', '128/1/1 free 384/5', '256/5/2 free 256/1', 'b'],
      ['confirmed', '0/0/0 free 512/6', '256/5/2 free 256/1', 'b'],
    ];
    for (const [s, onA, onB, host] of steps) {
      if (s !== 'pre-migrating') expect((await status(m, s)).body).toMatchObject({ status: s, applied: true });
      expect([s, await usage(a), await usage(b)]).toEqual([s, onA, onB]);
      const where = host === 'a' ? a : b;
      expect((await api('GET', `/nodes/${where}/instances/${i}`)).status).toBe(200);
      expect((await api('GET', `/nodes/${host === 'a' ? b : a}/instances/${i}`)).status).toBe(404);
    }
    expect((await api('GET', `/nodes/${b}`)).body.runningVms).toBe(1);
    expect((await api('GET', `/nodes/${a}`)).body.runningVms).toBe(0);
    expect((await api('GET', `/nodes/${b}/instances/${i}`)).body).toMatchObject({ flavor: F2, memoryMb: 256 });
  });

  test('finished then reverted: the destination releases and the instance is back on the source with its old flavor', async () => {
    const { a, b, i, m } = await start();
    await status(m, 'finished');
    await status(m, 'reverting');
    expect([await usage(a), await usage(b)]).toEqual(['128/1/1 free 384/5', '256/5/2 free 256/1']);
    await status(m, 'reverted');
    expect([await usage(a), await usage(b)]).toEqual(['128/1/1 free 384/5', '0/0/0 free 512/6']);
    expect((await api('GET', `/nodes/${a}/instances/${i}`)).body).toMatchObject({ flavor: F1, memoryMb: 128 });
    expect((await api('GET', `/nodes/${a}`)).body.runningVms).toBe(1);
    // The destination's stats come from its records (rule S6): none left, no key at 0.
    const dest = (await api('GET', `/nodes/${b}`)).body;
    expect(dest).toMatchObject({ runningVms: 0, stats: { io_workload: 0 } });
    expect(dest.stats.num_instances).toBeUndefined();
  });
});

describe('failures and evacuations', () => {
  async function resize(kind = 'resize') {
    const [a, b] = [fresh('src'), fresh('dst')];
    await nodes(a, b);
    const i = await instance(a);
    const m = fresh('mig');
    const body = {
      migrationId: m,
      instanceUuid: i,
      moveType: kind,
      sourceNodeId: a,
      ...(kind === 'resize' ? { newFlavor: F2 } : {}),
    };
    expect((await api('POST', `/nodes/${b}/move-claims`, body)).status).toBe(201);
    return { a, b, i, m };
  }

  test.each(['error', 'failed', 'cancelled'])(
    'a resize that ends %s before finishing releases the destination claim',
    async (s) => {
      const { a, b, i, m } = await resize();
      await status(m, 'migrating');
      expect((await status(m, s)).body).toMatchObject({ status: s, applied: true });
      expect([await usage(a), await usage(b)]).toEqual(['128/1/1 free 384/5', '0/0/0 free 512/6']);
      expect((await api('GET', `/nodes/${a}/instances/${i}`)).body.migrationId).toBeUndefined();
    },
  );

  test('a resize that fails after finishing keeps the instance where it now runs and frees the source', async () => {
    const { a, b, m } = await resize();
    await status(m, 'finished');
    await status(m, 'error');
    expect([await usage(a), await usage(b)]).toEqual(['0/0/0 free 512/6', '256/5/2 free 256/1']);
  });

  test('an evacuation counts the flavor on the destination until done moves the instance and frees the source', async () => {
    const { a, b, i, m } = await resize('evacuation');
    expect([await usage(a), await usage(b)]).toEqual(['128/1/1 free 384/5', '128/1/1 free 384/5']);
    await status(m, 'done');
    expect([await usage(a), await usage(b)]).toEqual(['0/0/0 free 512/6', '128/1/1 free 384/5']);
    expect((await api('GET', `/nodes/${b}/instances/${i}`)).body).toMatchObject({ flavor: F1 });
  });

  test('a failed evacuation releases the destination', async () => {
    const { a, b, m } = await resize('evacuation');
    await status(m, 'failed');
    expect([await usage(a), await usage(b)]).toEqual(['128/1/1 free 384/5', '0/0/0 free 512/6']);
  });

  test('a cold migration keeps the flavor and moves the instance', async () => {
    const { a, b, i, m } = await resize('migration');
    await status(m, 'finished');
    await status(m, 'confirmed');
    expect([await usage(a), await usage(b)]).toEqual(['0/0/0 free 512/6', '128/1/1 free 384/5']);
    expect((await api('GET', `/migrations/${m}`)).body).toMatchObject({
      moveType: 'migration',
      oldFlavor: F1,
      newFlavor: F1,
      status: 'confirmed',
    });
    expect((await api('GET', `/nodes/${b}/instances/${i}`)).status).toBe(200);
  });

  test('a destination without room answers 409 with Nova’s message and writes nothing', async () => {
    const [a, b] = [fresh('src'), fresh('dst')];
    await nodes(a, b);
    const i = await instance(a);
    await instance(b, F2);
    const before = await usage(b);
    const big = { vcpus: 1, memoryMb: 600, rootGb: 1 };
    const res = await api('POST', `/nodes/${b}/move-claims`, {
      migrationId: fresh('mig'),
      instanceUuid: i,
      moveType: 'resize',
      sourceNodeId: a,
      newFlavor: big,
    });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      error: 'InsufficientResources',
      message: 'Insufficient compute resources: Free memory 512.00 MB < requested 600 MB.',
    });
    expect(await usage(b)).toBe(before);
    expect((await api('GET', `/nodes/${a}/instances/${i}`)).body.migrationId).toBeUndefined();
  });
});

describe('status messages that must change nothing', () => {
  async function moving() {
    const [a, b] = [fresh('src'), fresh('dst')];
    await nodes(a, b);
    const i = await instance(a);
    const m = fresh('mig');
    await api('POST', `/nodes/${b}/move-claims`, {
      migrationId: m,
      instanceUuid: i,
      moveType: 'resize',
      sourceNodeId: a,
      newFlavor: F2,
    });
    return { a, b, i, m };
  }

  test('duplicates, reordering, stale sequences and anything after a final status are ignored with 200', async () => {
    const { a, b, m } = await moving();
    expect((await status(m, 'finished', 5)).body.applied).toBe(true);
    const snapshot = [await usage(a), await usage(b)];
    for (const [s, q] of [
      ['finished', 6],
      ['migrating', 7],
      ['confirming', 5],
      ['confirming', 4],
      ['pre-migrating', undefined],
    ] as const) {
      const res = await status(m, s, q);
      expect([s, q, res.status, res.body.applied]).toEqual([s, q, 200, false]);
    }
    expect([await usage(a), await usage(b)]).toEqual(snapshot);
    expect((await status(m, 'confirmed', 8)).body.applied).toBe(true);
    expect((await status(m, 'reverted', 9)).body).toMatchObject({ applied: false, status: 'confirmed', sequence: 8 });
    expect([await usage(a), await usage(b)]).toEqual(['0/0/0 free 512/6', '256/5/2 free 256/1']);
  });

  test('a status the lifecycle does not have is 409 InvalidTransition', async () => {
    const { m } = await moving();
    expect((await status(m, 'done')).body.error).toBe('InvalidTransition');
    await status(m, 'reverting');
    expect((await status(m, 'confirmed')).body.error).toBe('InvalidTransition');
    expect((await status(m, 'nonsense')).status).toBe(400);
    expect((await status('no-such-migration', 'finished')).status).toBe(404);
  });

  test('the same move claim again answers 200; a second move of a moving instance is a conflict', async () => {
    const { a, b, i, m } = await moving();
    const again = await api('POST', `/nodes/${b}/move-claims`, {
      migrationId: m,
      instanceUuid: i,
      moveType: 'resize',
      sourceNodeId: a,
      newFlavor: F2,
    });
    expect(again.status).toBe(200);
    expect(await usage(b)).toBe('256/5/2 free 256/1');
    const other = await api('POST', `/nodes/${b}/move-claims`, {
      migrationId: fresh('mig'),
      instanceUuid: i,
      moveType: 'resize',
      sourceNodeId: a,
      newFlavor: F1,
    });
    expect(other.body.error).toBe('InstanceConflict');
  });

  test('drop_move_claim releases the hold once; a status that needs it is then refused', async () => {
    const { a, b, m } = await moving();
    expect((await api('DELETE', `/nodes/${b}/move-claims/${m}`)).status).toBe(204);
    expect(await usage(b)).toBe('0/0/0 free 512/6');
    expect((await api('DELETE', `/nodes/${b}/move-claims/${m}?flavor=new`)).status).toBe(204);
    expect(await usage(b)).toBe('0/0/0 free 512/6');
    expect((await status(m, 'finished')).body.error).toBe('InvalidTransition');
    expect((await status(m, 'failed')).body.applied).toBe(true);
    expect(await usage(a)).toBe('128/1/1 free 384/5');
  });

  test('releasing a moving instance cancels the move and frees everything', async () => {
    const { a, b, i, m } = await moving();
    expect((await api('DELETE', `/nodes/${a}/instances/${i}`)).status).toBe(204);
    expect([await usage(a), await usage(b)]).toEqual(['0/0/0 free 512/6', '0/0/0 free 512/6']);
    expect((await api('GET', `/migrations/${m}`)).body.status).toBe('cancelled');
  });
});

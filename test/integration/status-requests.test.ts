// What a migration status change costs in DynamoDB requests, counted on the handlers' client: one GetItem
// and one write when it applies (a TransactWriteItems when holds move, the migration item's own PutItem when
// only the status moves on), the GetItem alone when it changes nothing, for every kind of move and every status
// (rules M7, M8, L2, D4). A stale copy of the instance record on the
// migration item costs more requests, never a wrong write.
import { randomUUID } from 'node:crypto';
import type { SQSBatchResponse } from 'aws-lambda';
import { handler as consumeStatuses } from '../../functions/migration-status-queue';
import { runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import { lambdaContext, sqsRecord } from '../../local/events';
import { api } from '../support/api';
import { F1, F2, N0, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
let counting = false;
let requests: Record<string, number> = {};

beforeAll(async () => {
  store = await freshTable('status-requests');
  runtime().store.client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName ?? 'unknown').replace(/Command$/, '');
      if (counting) requests[command] = (requests[command] ?? 0) + 1;
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'count-requests' },
  );
});

/** The requests `run` sends, by command. */
async function counted(run: () => Promise<unknown>): Promise<Record<string, number>> {
  requests = {};
  counting = true;
  try {
    await run();
  } finally {
    counting = false;
  }
  return requests;
}

const APPLIED = { GetItem: 1, TransactWriteItems: 1 };
/** Statuses that hand nothing over on these walks: the migration item alone is written, as its own PutItem. */
const STATUS_ONLY = new Set([
  'queued',
  'preparing',
  'running',
  'migrating',
  'post-migrating',
  'confirming',
  'reverting',
]);
const appliedCost = (status: string) => (STATUS_ONLY.has(status) ? { GetItem: 1, PutItem: 1 } : APPLIED);
const IGNORED = { GetItem: 1 };

let seq = 0;
const fresh = (prefix: string) => `${prefix}-${++seq}-${randomUUID().slice(0, 4)}`;

async function moving(moveType: string, sameNode = false) {
  const [src, dst] = [fresh('src'), sameNode ? '' : fresh('dst')];
  const dest = sameNode ? src : dst;
  for (const id of new Set([src, dest])) expect((await api('PUT', `/nodes/${id}`, N0)).status).toBe(201);
  const instanceUuid = uuid();
  const claim = { instanceUuid, flavor: F1, vmState: 'active', taskState: null };
  expect((await api('POST', `/nodes/${src}/instances`, claim)).status).toBe(201);
  const migrationId = fresh('mig');
  const body = {
    migrationId,
    instanceUuid,
    moveType,
    sourceNodeId: src,
    ...(moveType === 'resize' ? { newFlavor: F2 } : {}),
  };
  expect((await api('POST', `/nodes/${dest}/move-claims`, body)).status).toBe(201);
  return { src, dest, instanceUuid, migrationId };
}

async function expectStatus(migrationId: string, status: string, applied: boolean, sequence?: number) {
  const body = sequence === undefined ? { status } : { status, sequence };
  const reply = await api('POST', `/migrations/${migrationId}/status`, body);
  expect({ code: reply.status, applied: reply.body.applied }).toEqual({ code: 200, applied });
}

/** Walks the statuses over HTTP, each costing what an applied status of its kind costs, then checks both ledgers. */
async function walk(m: { src: string; dest: string; migrationId: string }, statuses: string[]) {
  for (const s of statuses) {
    expect({ s, requests: await counted(() => expectStatus(m.migrationId, s, true)) }).toEqual({
      s,
      requests: appliedCost(s),
    });
  }
  await expectLedgerExact(store, m.src);
  await expectLedgerExact(store, m.dest);
}

const COLD = ['migrating', 'post-migrating', 'finished', 'confirming'];

describe('an applied status change is one GetItem and one write', () => {
  // Each row: the move, whether it stays on its node, its statuses, and where the instance ends up.
  test.each([
    ['resize', false, [...COLD, 'confirmed'], 'dest'],
    ['resize', true, [...COLD, 'confirmed'], 'dest'],
    ['resize', true, ['finished', 'reverting', 'reverted'], 'src'],
    ['migration', false, [...COLD, 'confirmed'], 'dest'],
    ['migration', false, ['finished', 'reverting', 'reverted'], 'src'],
    ['migration', false, ['migrating', 'error'], 'src'],
    ['migration', false, ['finished', 'failed'], 'dest'],
    ['migration', false, ['cancelled'], 'src'],
    ['evacuation', false, ['migrating', 'post-migrating', 'done'], 'dest'],
    ['evacuation', false, ['migrating', 'failed'], 'src'],
    ['live-migration', false, ['queued', 'preparing', 'running', 'post-migrating', 'completed'], 'dest'],
    ['live-migration', false, ['queued', 'running', 'failed'], 'src'],
    ['live-migration', false, ['cancelled'], 'src'],
  ] as const)('%s (same node: %s) through %j ends on %s', async (moveType, sameNode, statuses, host) => {
    const m = await moving(moveType, sameNode);
    await walk(m, [...statuses]);
    const record = await api('GET', `/nodes/${m[host]}/instances/${m.instanceUuid}`);
    expect(record.status).toBe(200);
    expect(record.body.migrationId).toBeUndefined();
  });

  test('a re-targeted live migration keeps the copy: completed lands on the new destination', async () => {
    const m = await moving('live-migration');
    const other = fresh('dst');
    expect((await api('PUT', `/nodes/${other}`, N0)).status).toBe(201);
    const body = {
      migrationId: m.migrationId,
      instanceUuid: m.instanceUuid,
      moveType: 'live-migration',
      sourceNodeId: m.src,
    };
    expect((await api('POST', `/nodes/${other}/move-claims`, body)).status).toBe(201);
    await walk({ ...m, dest: other }, ['queued', 'running', 'completed']);
    await expectLedgerExact(store, m.dest);
    const record = await api('GET', `/nodes/${other}/instances/${m.instanceUuid}`);
    expect([record.status, record.body.migrationId]).toEqual([200, undefined]);
  });

  test('a status from the queue costs the same', async () => {
    const m = await moving('migration');
    let n = 0;
    const send = (status: string): Promise<SQSBatchResponse> =>
      consumeStatuses(
        {
          Records: [
            sqsRecord({
              messageId: randomUUID(),
              body: JSON.stringify({ migrationId: m.migrationId, status, sequence: ++n }),
              groupId: m.instanceUuid,
              deduplicationId: randomUUID(),
              sequenceNumber: String(n).padStart(20, '0'),
              sentAt: Date.now(),
              receiveCount: 1,
            }),
          ],
        },
        lambdaContext('migration-status-queue'),
      );
    for (const s of ['migrating', 'finished', 'confirmed']) {
      const byCommand = await counted(async () => expect(await send(s)).toEqual({ batchItemFailures: [] }));
      expect({ s, byCommand }).toEqual({ s, byCommand: appliedCost(s) });
    }
    await expectLedgerExact(store, m.src);
    await expectLedgerExact(store, m.dest);
  });
});

describe("an agent's status change checks the migration's nodes on the change's own read (rule W2)", () => {
  const as = (nodeId: string, migrationId: string, status: string) =>
    api('POST', `/migrations/${migrationId}/status`, { status }, {}, { role: 'agent', session: nodeId });

  test('the agent of the source: GetItem and TransactWriteItems; of another node: refused after the GetItem', async () => {
    const m = await moving('migration');
    const saved = process.env.AUTH;
    // Enforcing, as in AWS: the harness runs the handlers open otherwise.
    process.env.AUTH = 'iam';
    const replies: { status: number; body: { status?: string; applied?: boolean; error?: string } }[] = [];
    const send = (nodeId: string, status: string) =>
      counted(async () => replies.push(await as(nodeId, m.migrationId, status)));
    try {
      expect(await send(m.src, 'finished')).toEqual(APPLIED);
      expect(await send(fresh('other'), 'confirmed')).toEqual(IGNORED);
      expect(await send(m.dest, 'confirmed')).toEqual(APPLIED);
    } finally {
      process.env.AUTH = saved;
    }
    expect(replies.map((r) => [r.status, r.body.status ?? r.body.error, r.body.applied])).toEqual([
      [200, 'finished', true],
      [403, 'Forbidden', undefined],
      [200, 'confirmed', true],
    ]);
    await expectLedgerExact(store, m.src);
    await expectLedgerExact(store, m.dest);
  });
});

describe('a status change that changes nothing is one GetItem', () => {
  test('a repeat, a status that goes backwards, a stale sequence, one after the final status', async () => {
    const m = await moving('migration');
    expect(await counted(() => expectStatus(m.migrationId, 'finished', true, 5))).toEqual(APPLIED);
    expect(await counted(() => expectStatus(m.migrationId, 'finished', false, 6))).toEqual(IGNORED);
    expect(await counted(() => expectStatus(m.migrationId, 'migrating', false, 7))).toEqual(IGNORED);
    expect(await counted(() => expectStatus(m.migrationId, 'confirming', false, 4))).toEqual(IGNORED);
    expect(await counted(() => expectStatus(m.migrationId, 'confirmed', true, 8))).toEqual(APPLIED);
    expect(await counted(() => expectStatus(m.migrationId, 'reverted', false, 9))).toEqual(IGNORED);
    await expectLedgerExact(store, m.src);
    await expectLedgerExact(store, m.dest);
  });
});

describe('a stale copy of the record only fails the write', () => {
  test('a state change during the move: finished reads the record and moves it as changed', async () => {
    const m = await moving('migration');
    const patch = await api('PATCH', `/nodes/${m.src}/instances/${m.instanceUuid}`, { taskState: 'resize_migrating' });
    expect(patch.status).toBe(200);
    // The copy on the migration predates the PATCH: the write built on it fails, the record is read.
    const stale = await counted(() => expectStatus(m.migrationId, 'finished', true));
    expect(stale.TransactWriteItems).toBe(2);
    expect(stale.TransactGetItems).toBe(1);
    const moved = (await api('GET', `/nodes/${m.dest}/instances/${m.instanceUuid}`)).body;
    expect(moved).toMatchObject({ taskState: 'resize_migrating', migrationId: m.migrationId });
    expect((await api('GET', `/nodes/${m.src}/instances/${m.instanceUuid}`)).status).toBe(404);
    // That write left a fresh copy: the next status is back to two requests.
    expect(await counted(() => expectStatus(m.migrationId, 'confirmed', true))).toEqual(APPLIED);
    await expectLedgerExact(store, m.src);
    await expectLedgerExact(store, m.dest);
  });

  test('a hold dropped by hand: the write built on the copy fails and the status is refused as before', async () => {
    const m = await moving('migration');
    expect((await api('DELETE', `/nodes/${m.dest}/move-claims/${m.migrationId}`)).status).toBe(204);
    const reply = await api('POST', `/migrations/${m.migrationId}/status`, { status: 'finished' });
    expect({ code: reply.status, error: reply.body.error }).toEqual({ code: 409, error: 'InvalidTransition' });
    expect((await api('GET', `/migrations/${m.migrationId}`)).body.status).toBe('pre-migrating');
    await expectLedgerExact(store, m.src);
    await expectLedgerExact(store, m.dest);
  });
});

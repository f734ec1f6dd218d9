// The migration status queue: the SQS FIFO consumer called with SQS batches, and the local queue that
// delivers to it with FIFO groups, visibility timeouts, receive counts and a dead-letter list. A message
// that can never apply is rejected at once; only transient failures are retried, within rule OP1's bound.
import { randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handler } from '../../functions/migration-status-queue';
import { runtime } from '../../lib/api/runtime';
import { MAX_RECEIVE_COUNT } from '../../lib/status-retry';
import { getMigration, type Store } from '../../lib/store';
import { lambdaContext, sqsRecord } from '../../local/events';
import type { QueueHandler } from '../../local/fifo-queue';
import {
  createLocalQueue,
  localQueueRoutes,
  MIGRATION_STATUS_PATH,
  type LocalQueueOptions,
} from '../../local/migration-status-queue';
import { logger } from '../../lib/api/logger';
import { api } from '../support/api';
import { F1, F2, N0, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
/** Migrations whose every DynamoDB request fails, as in an outage of their items (a transient failure). */
const outage = new Set<string>();
beforeAll(async () => {
  store = await freshTable('queue');
  runtime().store.client.middlewareStack.add(
    (next) => async (args) => {
      const sent = JSON.stringify(args.input);
      for (const m of outage) if (sent.includes(`MIGRATION#${m}"`)) throw new Error(`injected outage of ${m}`);
      return next(args);
    },
    { step: 'initialize', name: 'inject-outage' },
  );
});
afterEach(() => outage.clear());

let seq = 0;
const fresh = (prefix: string) => `${prefix}-${++seq}`;

/** A cross-node resize of an F1 instance to F2, claimed on the destination: status pre-migrating. */
async function resize() {
  const [a, b] = [fresh('src'), fresh('dst')];
  for (const id of [a, b]) expect((await api('PUT', `/nodes/${id}`, N0)).status).toBe(201);
  const i = uuid();
  expect(
    (await api('POST', `/nodes/${a}/instances`, { instanceUuid: i, flavor: F1, vmState: 'active', taskState: null }))
      .status,
  ).toBe(201);
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

/** "used a/b/c, free x/y" of the worked examples, after checking the node's ledger adds up. */
async function usage(nodeId: string) {
  await expectLedgerExact(store, nodeId);
  const n = (await api('GET', `/nodes/${nodeId}`)).body;
  return `${n.memoryMbUsed}/${n.localGbUsed}/${n.vcpusUsed} free ${n.freeRamMb}/${n.freeDiskGb}`;
}

const BEFORE = ['128/1/1 free 384/5', '256/5/2 free 256/1'];
const CONFIRMED = ['0/0/0 free 512/6', '256/5/2 free 256/1'];

const update = (migrationId: string, status: string, sequence: number) =>
  JSON.stringify({ migrationId, status, sequence });

interface Sent {
  body: string;
  groupId: string;
  messageId?: string;
  receiveCount?: number;
}

/** An SQS event of these messages, in this order, as Lambda's event source would deliver them. */
function batch(...messages: Sent[]): SQSEvent {
  const now = Date.now();
  return {
    Records: messages.map((s, n) =>
      sqsRecord({
        messageId: s.messageId ?? randomUUID(),
        body: s.body,
        groupId: s.groupId,
        deduplicationId: randomUUID(),
        sequenceNumber: String(n + 1).padStart(20, '0'),
        sentAt: now,
        receiveCount: s.receiveCount ?? 1,
      }),
    ),
  };
}

const consume = (event: SQSEvent) => handler(event, lambdaContext('migration-status-queue'));
const failed = (response: SQSBatchResponse) => response.batchItemFailures.map((f) => f.itemIdentifier);
const ids = (event: SQSEvent) => event.Records.map((r) => r.messageId);

describe('the consumer, called with SQS batches', () => {
  test('the statuses of one resize in one batch apply in order, and both nodes add up exactly', async () => {
    const { a, b, i, m } = await resize();
    expect([await usage(a), await usage(b)]).toEqual(BEFORE);
    const response = await consume(
      batch({ body: update(m, 'finished', 1), groupId: i }, { body: update(m, 'confirmed', 2), groupId: i }),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect([await usage(a), await usage(b)]).toEqual(CONFIRMED);
    expect((await api('GET', `/migrations/${m}`)).body).toMatchObject({ status: 'confirmed', sequence: 2 });
    expect((await api('GET', `/nodes/${b}/instances/${i}`)).body).toMatchObject({ flavor: F2, memoryMb: 256 });
    expect((await getMigration(store, m)).version).toBe(3);
  });

  test('a malformed message is rejected at once: the rest of its group applies after it, other groups too', async () => {
    const [r1, r2, r3] = [await resize(), await resize(), await resize()];
    const event = batch(
      { body: update(r1.m, 'migrating', 1), groupId: r1.i },
      { body: update(r2.m, 'finished', 1), groupId: r2.i },
      { body: '{"migrationId": "truncated', groupId: r2.i },
      { body: update(r2.m, 'confirmed', 2), groupId: r2.i },
      { body: update(r3.m, 'finished', 1), groupId: r3.i },
      { body: update(r1.m, 'confirmed', 2), groupId: r1.i },
    );
    expect(failed(await consume(event))).toEqual([]);
    expect((await api('GET', `/migrations/${r2.m}`)).body).toMatchObject({ status: 'confirmed', sequence: 2 });
    expect((await api('GET', `/migrations/${r1.m}`)).body).toMatchObject({ status: 'confirmed', sequence: 2 });
    expect((await api('GET', `/migrations/${r3.m}`)).body).toMatchObject({ status: 'finished', sequence: 1 });
    for (const r of [r1, r2]) expect([await usage(r.a), await usage(r.b)]).toEqual(CONFIRMED);
  });

  test('a transient failure is reported; with skipGroupOnError the rest of its group fails after it, other groups apply', async () => {
    const [r1, r2] = [await resize(), await resize()];
    outage.add(r2.m);
    const event = batch(
      { body: update(r2.m, 'finished', 1), groupId: r2.i },
      { body: update(r1.m, 'finished', 1), groupId: r1.i },
      { body: update(r2.m, 'confirmed', 2), groupId: r2.i },
    );
    const [down, , heldBack] = ids(event);
    expect(failed(await consume(event))).toEqual([down, heldBack]);
    expect((await api('GET', `/migrations/${r1.m}`)).body).toMatchObject({ status: 'finished', sequence: 1 });
    outage.clear();
    expect((await api('GET', `/migrations/${r2.m}`)).body).toMatchObject({ status: 'pre-migrating' });
  });

  test('every kind of malformed body is rejected alone, each in its own group, and changes nothing', async () => {
    const r = await resize();
    const bad = [
      'not json',
      'null',
      '[]',
      '{}',
      JSON.stringify({ migrationId: r.m, status: 'finished' }),
      JSON.stringify({ migrationId: r.m, status: 'finished', sequence: -1 }),
      JSON.stringify({ migrationId: r.m, status: 'finished', sequence: 1.5 }),
      JSON.stringify({ migrationId: r.m, status: 'finished', sequence: '1' }),
      JSON.stringify({ migrationId: r.m, status: 'nonsense', sequence: 1 }),
      JSON.stringify({ migrationId: `${r.m}/x`, status: 'finished', sequence: 1 }),
      JSON.stringify({ migrationId: r.m, status: 'finished', sequence: 1, extra: true }),
    ];
    const event = batch(...bad.map((body) => ({ body, groupId: uuid() })), {
      body: update(r.m, 'migrating', 1),
      groupId: r.i,
    });
    expect(failed(await consume(event))).toEqual([]);
    expect((await api('GET', `/migrations/${r.m}`)).body).toMatchObject({ status: 'migrating', sequence: 1 });
    expect([await usage(r.a), await usage(r.b)]).toEqual(BEFORE);
  });

  test('an unknown migration and a status the move cannot take are rejected and logged whole; the group goes on', async () => {
    const r = await resize();
    const logged = jest.spyOn(logger, 'error');
    try {
      const event = batch(
        { body: update('no-such-migration', 'finished', 1), groupId: r.i },
        { body: update(r.m, 'done', 1), groupId: r.i },
        { body: update(r.m, 'finished', 2), groupId: r.i },
      );
      expect(failed(await consume(event))).toEqual([]);
      const rejected = logged.mock.calls.filter(([message]) => String(message).includes('rejected'));
      expect(rejected.map(([, details]) => (details as { body: string }).body)).toEqual(
        event.Records.slice(0, 2).map((rec) => rec.body),
      );
    } finally {
      logged.mockRestore();
    }
    // The rejected two changed nothing; the status behind them applied.
    expect((await getMigration(store, r.m)).version).toBe(2);
    expect((await api('GET', `/migrations/${r.m}`)).body).toMatchObject({ status: 'finished', sequence: 2 });
  });

  test('a duplicate delivery of an applied message, or a stale one, succeeds and changes nothing', async () => {
    const r = await resize();
    const finished = { body: update(r.m, 'finished', 5), groupId: r.i, messageId: randomUUID() };
    expect(await consume(batch(finished))).toEqual({ batchItemFailures: [] });
    const snapshot = [await usage(r.a), await usage(r.b), await getMigration(store, r.m)];
    const again = await consume(
      batch(
        { ...finished, receiveCount: 2 },
        { body: update(r.m, 'finished', 6), groupId: r.i },
        { body: update(r.m, 'migrating', 4), groupId: r.i },
      ),
    );
    expect(again).toEqual({ batchItemFailures: [] });
    expect([await usage(r.a), await usage(r.b), await getMigration(store, r.m)]).toEqual(snapshot);
  });
});

describe('through the local FIFO queue', () => {
  /** The consumer behind a local queue, with every invocation's message ids kept. */
  function queueOf(options: Partial<LocalQueueOptions> = {}, consumer: QueueHandler = handler) {
    const invocations: string[][] = [];
    const queue = createLocalQueue({
      visibilityTimeoutMs: 20,
      pollMs: 5,
      ...options,
      handler: (event, context) => {
        invocations.push(ids(event));
        return consumer(event, context);
      },
    });
    const deliveries = (messageId: string) => invocations.filter((batchIds) => batchIds.includes(messageId)).length;
    return { queue, invocations, deliveries };
  }

  test('a poison message and the good one behind it for the same migration: the poison is received once, the good one applies', async () => {
    const r = await resize();
    const { queue, deliveries, invocations } = queueOf({ batchSize: 1 });
    try {
      const poison = queue.send({ body: update(r.m, 'done', 1), groupId: r.i });
      const good = queue.send({ body: update(r.m, 'finished', 2), groupId: r.i });
      expect(await queue.drain(10_000)).toBe(true);
      // One message a batch: the good one is the very next delivery of its group.
      expect(invocations).toEqual([[poison.messageId], [good.messageId]]);
      expect([deliveries(poison.messageId), deliveries(good.messageId)]).toEqual([1, 1]);
      expect(queue.deadLetters()).toEqual([]);
      expect(queue.stats()).toMatchObject({ messages: 0, sent: 2, deleted: 2, failed: 0, deadLetters: 0 });
      expect((await api('GET', `/migrations/${r.m}`)).body).toMatchObject({ status: 'finished', sequence: 2 });
    } finally {
      await queue.close();
    }
  });

  // Lambda fails the rest of a group in the same batch after a failing message, and SQS counts that
  // receive too: a message that keeps arriving with one that keeps failing reaches the dead letters with it.
  test(`a transient failure that lasts holds its group back for ${MAX_RECEIVE_COUNT} receives, then both go to the dead letters; other groups apply once`, async () => {
    const [r1, r2] = [await resize(), await resize()];
    outage.add(r1.m);
    const { queue, deliveries } = queueOf();
    try {
      const down = queue.send({ body: update(r1.m, 'finished', 1), groupId: r1.i });
      const behind = queue.send({ body: update(r1.m, 'confirmed', 2), groupId: r1.i });
      const other = queue.send({ body: update(r2.m, 'finished', 1), groupId: r2.i });
      expect(await queue.drain(10_000)).toBe(true);
      expect([down, behind, other].map((m) => deliveries(m.messageId))).toEqual([
        MAX_RECEIVE_COUNT,
        MAX_RECEIVE_COUNT,
        1,
      ]);
      expect(queue.deadLetters().map((d) => [d.messageId, d.receiveCount])).toEqual([
        [down.messageId, MAX_RECEIVE_COUNT],
        [behind.messageId, MAX_RECEIVE_COUNT],
      ]);
      outage.clear();
      expect((await getMigration(store, r1.m)).version).toBe(1);
      expect((await api('GET', `/migrations/${r2.m}`)).body.status).toBe('finished');
    } finally {
      await queue.close();
    }
  });

  test('a transient failure that clears before the last receive: the group applies in order, nothing dead-lettered', async () => {
    const r = await resize();
    outage.add(r.m);
    // The outage ends as the messages come up for their last receive.
    const { queue, deliveries } = queueOf({}, async (event, context) => {
      if (event.Records.some((rec) => Number(rec.attributes.ApproximateReceiveCount) === MAX_RECEIVE_COUNT))
        outage.clear();
      return handler(event, context);
    });
    try {
      const first = queue.send({ body: update(r.m, 'finished', 1), groupId: r.i });
      const second = queue.send({ body: update(r.m, 'confirmed', 2), groupId: r.i });
      expect(await queue.drain(10_000)).toBe(true);
      expect([first, second].map((m) => deliveries(m.messageId))).toEqual([MAX_RECEIVE_COUNT, MAX_RECEIVE_COUNT]);
      expect(queue.deadLetters()).toEqual([]);
      expect([await usage(r.a), await usage(r.b)]).toEqual(CONFIRMED);
    } finally {
      await queue.close();
    }
  });

  test.each([
    ['the invocation crashed before applying anything', false],
    ['the answer was lost after the statuses applied', true],
  ])('a batch redelivered because %s applies each status exactly once', async (_why, appliedFirst) => {
    const r = await resize();
    let first = true;
    const flaky: QueueHandler = async (event, context) => {
      if (!first) return handler(event, context);
      first = false;
      if (!appliedFirst) throw new Error('crashed (injected)');
      await handler(event, context);
      return { batchItemFailures: event.Records.map((rec) => ({ itemIdentifier: rec.messageId })) };
    };
    const { queue, invocations } = queueOf({}, flaky);
    try {
      const sent = [
        queue.send({ body: update(r.m, 'finished', 1), groupId: r.i }),
        queue.send({ body: update(r.m, 'confirmed', 2), groupId: r.i }),
      ];
      expect(await queue.drain(10_000)).toBe(true);
      const both = sent.map((s) => s.messageId);
      expect(invocations).toEqual([both, both]);
      expect(queue.stats()).toMatchObject({
        invocationErrors: appliedFirst ? 0 : 1,
        failed: 2,
        deleted: 2,
        deadLetters: 0,
      });
      // pre-migrating → finished → confirmed: two writes, whichever attempt made them.
      expect((await getMigration(store, r.m)).version).toBe(3);
      expect([await usage(r.a), await usage(r.b)]).toEqual(CONFIRMED);
    } finally {
      await queue.close();
    }
  });

  test('a duplicate send within the deduplication interval is accepted and not enqueued again', async () => {
    const received: string[] = [];
    const queue = createLocalQueue({
      pollMs: 5,
      handler: async (event) => {
        received.push(...event.Records.map((rec) => rec.body));
      },
    });
    try {
      const one = queue.send({ body: 'a', groupId: 'g' });
      expect(queue.send({ body: 'a', groupId: 'g' })).toEqual({ ...one, duplicate: true });
      const other = queue.send({ body: 'a', groupId: 'g', deduplicationId: 'explicit' });
      expect(other.duplicate).toBe(false);
      expect(queue.send({ body: 'b', groupId: 'h', deduplicationId: 'explicit' })).toEqual({
        ...other,
        duplicate: true,
      });
      expect(await queue.drain(10_000)).toBe(true);
      expect(received).toEqual(['a', 'a']);
      expect(queue.stats()).toMatchObject({ sent: 2, duplicates: 2, deleted: 2 });
    } finally {
      await queue.close();
    }
  });

  test('the local route enqueues in the group of the migration’s instance and shows the queue', async () => {
    const r = await resize();
    const { queue } = queueOf();
    const routes = localQueueRoutes(queue);
    try {
      const post = await routes.handle({
        method: 'POST',
        url: MIGRATION_STATUS_PATH,
        body: Buffer.from(update(r.m, 'finished', 1)),
      });
      expect(post.statusCode).toBe(202);
      expect(JSON.parse(post.body ?? '')).toMatchObject({ groupId: r.i, duplicate: false });
      expect(await queue.drain(10_000)).toBe(true);
      const shown = JSON.parse((await routes.handle({ method: 'GET', url: MIGRATION_STATUS_PATH })).body ?? '');
      expect(shown).toMatchObject({
        queue: 'migration-status.fifo',
        messages: 0,
        sent: 1,
        deleted: 1,
        deadLetters: [],
      });
      expect((await api('GET', `/migrations/${r.m}`)).body.status).toBe('finished');
    } finally {
      await queue.close();
    }
  });
});

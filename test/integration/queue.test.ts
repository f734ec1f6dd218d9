// The migration status queue: the SQS FIFO consumer called with SQS batches, and the local queue that
// delivers to it with FIFO groups, visibility timeouts, receive counts and a dead-letter list.
import { randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handler } from '../../functions/migration-status-queue';
import { getMigration, type Store } from '../../lib/store';
import { lambdaContext, sqsRecord } from '../../local/events';
import type { QueueHandler } from '../../local/fifo-queue';
import {
  createLocalQueue,
  localQueueRoutes,
  MIGRATION_STATUS_PATH,
  type LocalQueueOptions,
} from '../../local/migration-status-queue';
import { api } from '../support/api';
import { F1, F2, N0, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('queue');
});

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

  test('a malformed message fails; with skipGroupOnError the rest of its group fails after it, other groups apply', async () => {
    const [r1, r2, r3] = [await resize(), await resize(), await resize()];
    const event = batch(
      { body: update(r1.m, 'migrating', 1), groupId: r1.i },
      { body: update(r2.m, 'finished', 1), groupId: r2.i },
      { body: '{"migrationId": "truncated', groupId: r2.i },
      { body: update(r2.m, 'confirmed', 2), groupId: r2.i },
      { body: update(r3.m, 'finished', 1), groupId: r3.i },
      { body: update(r1.m, 'confirmed', 2), groupId: r1.i },
    );
    const [, , poison, heldBack] = ids(event);
    expect(failed(await consume(event))).toEqual([poison, heldBack]);
    // Before the poison its group applied; after it nothing of that group ran.
    expect((await api('GET', `/migrations/${r2.m}`)).body).toMatchObject({ status: 'finished', sequence: 1 });
    expect((await api('GET', `/migrations/${r1.m}`)).body).toMatchObject({ status: 'confirmed', sequence: 2 });
    expect((await api('GET', `/migrations/${r3.m}`)).body).toMatchObject({ status: 'finished', sequence: 1 });
    expect([await usage(r1.a), await usage(r1.b)]).toEqual(CONFIRMED);
    expect([await usage(r2.a), await usage(r2.b)]).toEqual(BEFORE);
  });

  test('every kind of malformed body fails alone, each in its own group', async () => {
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
    expect(failed(await consume(event))).toEqual(ids(event).slice(0, bad.length));
    expect((await api('GET', `/migrations/${r.m}`)).body).toMatchObject({ status: 'migrating', sequence: 1 });
    expect([await usage(r.a), await usage(r.b)]).toEqual(BEFORE);
  });

  test('an unknown migration fails, and so does a status the move cannot take; nothing changes', async () => {
    const r = await resize();
    const event = batch(
      { body: update('no-such-migration', 'finished', 1), groupId: uuid() },
      { body: update(r.m, 'done', 1), groupId: r.i },
    );
    expect(failed(await consume(event))).toEqual(ids(event));
    expect((await getMigration(store, r.m)).version).toBe(1);
    expect([await usage(r.a), await usage(r.b)]).toEqual(BEFORE);
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
      maxReceiveCount: 3,
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

  test('a poison message goes to the dead letters after maxReceiveCount deliveries; other groups are delivered once', async () => {
    const [r1, r2] = [await resize(), await resize()];
    const { queue, deliveries } = queueOf();
    try {
      const poison = queue.send({ body: 'not json', groupId: uuid() });
      const valid = [
        queue.send({ body: update(r1.m, 'finished', 1), groupId: r1.i }),
        queue.send({ body: update(r2.m, 'finished', 1), groupId: r2.i }),
        queue.send({ body: update(r1.m, 'confirmed', 2), groupId: r1.i }),
      ];
      expect(await queue.drain(10_000)).toBe(true);
      expect(deliveries(poison.messageId)).toBe(3);
      expect(valid.map((v) => deliveries(v.messageId))).toEqual([1, 1, 1]);
      expect(queue.deadLetters()).toEqual([
        expect.objectContaining({ messageId: poison.messageId, body: 'not json', receiveCount: 3 }),
      ]);
      expect(queue.stats()).toMatchObject({ messages: 0, inFlight: 0, sent: 4, deleted: 3, failed: 3, deadLetters: 1 });
      expect([await usage(r1.a), await usage(r1.b)]).toEqual(CONFIRMED);
      expect((await api('GET', `/migrations/${r2.m}`)).body.status).toBe('finished');
    } finally {
      await queue.close();
    }
  });

  // Lambda fails the rest of a poisoned group in the same batch, and SQS counts that receive too: a
  // message that keeps arriving with the poison reaches the dead letters with it. One message per
  // batch keeps it out of the poison's receives.
  test.each([
    [10, ['poison', 'behind'], 0],
    [1, ['poison'], 1],
  ])(
    'batch size %i: the dead letters are %j; the message behind the poison in its group applied %i time(s)',
    async (batchSize, deadIds, applied) => {
      const r = await resize();
      const { queue, deliveries } = queueOf({ batchSize });
      try {
        const poison = queue.send({ body: '{}', groupId: r.i });
        const behind = queue.send({ body: update(r.m, 'finished', 1), groupId: r.i });
        expect(await queue.drain(10_000)).toBe(true);
        const named = { poison: poison.messageId, behind: behind.messageId };
        expect(queue.deadLetters().map((d) => d.messageId)).toEqual(deadIds.map((k) => named[k as keyof typeof named]));
        expect(deliveries(poison.messageId)).toBe(3);
        expect(deliveries(behind.messageId)).toBe(batchSize === 1 ? 1 : 3);
        expect((await getMigration(store, r.m)).version).toBe(1 + applied);
        // Finished or not, a cross-node resize holds the same on both nodes until it is confirmed.
        expect([await usage(r.a), await usage(r.b)]).toEqual(BEFORE);
      } finally {
        await queue.close();
      }
    },
  );

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

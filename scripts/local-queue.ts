// An in-memory SQS FIFO queue for the local runner and the tests, so that the queue consumer runs here
// as it runs behind Lambda's SQS event source with ReportBatchItemFailures: ordered message groups,
// deduplication, a visibility timeout, receive counts and a dead-letter list (the redrive policy).
import { createHash, randomUUID } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { MigrationNotFound } from '../lib/errors';
import { runtime } from '../lib/api/runtime';
import { getMigration } from '../lib/store';
import { HttpFailure, lambdaContext, type LocalRequest } from './local-server';

/** SQS refuses bodies over 256 KiB. */
const MAX_MESSAGE_BYTES = 256 * 1024;
/** SQS FIFO drops a message whose deduplication id was seen in the last 5 minutes. */
const DEDUPLICATION_MS = 5 * 60_000;
const ACCOUNT_ID = '000000000000';

export type QueueHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface LocalQueueOptions {
  handler: QueueHandler;
  /** Queue name; a FIFO queue's ends in .fifo. */
  name?: string;
  /** Records per invocation, at most 10 for a FIFO queue. */
  batchSize?: number;
  /** How long a received message stays invisible, counted from its receipt (SQS's default is 30 s). */
  visibilityTimeoutMs?: number;
  /** The redrive policy: a message received this many times without success goes to the dead letters. */
  maxReceiveCount?: number;
  /** How often an idle queue with messages waiting for their visibility timeout looks again. */
  pollMs?: number;
  /** The Lambda context each invocation gets. */
  context?: () => Context;
}

export interface SendRequest {
  body: string;
  groupId: string;
  /** Without it, the SHA-256 of the body (content-based deduplication). */
  deduplicationId?: string;
}

export interface SendResult {
  messageId: string;
  sequenceNumber: string;
  /** True when the deduplication id was seen in the last 5 minutes: accepted, not enqueued again. */
  duplicate: boolean;
}

export interface DeadLetter {
  messageId: string;
  body: string;
  groupId: string;
  deduplicationId: string;
  sequenceNumber: string;
  receiveCount: number;
  sentAt: string;
  deadLetteredAt: string;
}

export interface QueueStats {
  /** Messages in the queue: waiting, in flight or waiting out their visibility timeout. */
  messages: number;
  inFlight: number;
  /** Failed messages not yet visible again. */
  waiting: number;
  groups: number;
  sent: number;
  duplicates: number;
  invocations: number;
  /** Invocations that threw: every message of the batch counts as failed. */
  invocationErrors: number;
  received: number;
  deleted: number;
  failed: number;
  deadLetters: number;
}

export interface LocalQueue {
  readonly name: string;
  send(request: SendRequest): SendResult;
  stats(): QueueStats;
  deadLetters(): DeadLetter[];
  /** Resolves true once the queue is empty and nothing is in flight; false if `timeoutMs` passes first or the queue closes. */
  drain(timeoutMs?: number): Promise<boolean>;
  /** Stops delivering (after the batch in flight) and refuses further sends; messages still queued are dropped. */
  close(): Promise<void>;
}

interface Message {
  messageId: string;
  body: string;
  groupId: string;
  deduplicationId: string;
  sequenceNumber: string;
  sentAt: number;
  firstReceivedAt?: number;
  receiveCount: number;
  visibleAt: number;
  inFlight: boolean;
}

/** The record Lambda's SQS event source hands the function for one received message. */
export function sqsRecord(
  m: Pick<Message, 'messageId' | 'body' | 'groupId' | 'deduplicationId' | 'sequenceNumber' | 'sentAt' | 'receiveCount'> & { firstReceivedAt?: number },
  queueName = 'migration-status.fifo',
): SQSRecord {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  return {
    messageId: m.messageId,
    receiptHandle: Buffer.from(`${m.messageId} ${randomUUID()}`).toString('base64'),
    body: m.body,
    attributes: {
      ApproximateReceiveCount: String(m.receiveCount),
      SentTimestamp: String(m.sentAt),
      SenderId: ACCOUNT_ID,
      ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt ?? m.sentAt),
      SequenceNumber: m.sequenceNumber,
      MessageGroupId: m.groupId,
      MessageDeduplicationId: m.deduplicationId,
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(m.body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:${region}:${ACCOUNT_ID}:${queueName}`,
    awsRegion: region,
  };
}

export function createLocalQueue(options: LocalQueueOptions): LocalQueue {
  const name = options.name ?? 'migration-status.fifo';
  const batchSize = options.batchSize ?? 10;
  const visibilityTimeoutMs = options.visibilityTimeoutMs ?? 30_000;
  const maxReceiveCount = options.maxReceiveCount ?? 5;
  const pollMs = options.pollMs ?? 100;
  const context = options.context ?? (() => lambdaContext('migration-status-queue'));
  if (batchSize < 1 || batchSize > 10) throw new Error('a FIFO queue delivers batches of 1 to 10 messages');

  // Message groups in the order they appeared, each in send order; a message stays at its place until deleted.
  const groups = new Map<string, Message[]>();
  const seen = new Map<string, { messageId: string; sequenceNumber: string; until: number }>();
  const dead: DeadLetter[] = [];
  const counts = { sent: 0, duplicates: 0, invocations: 0, invocationErrors: 0, received: 0, deleted: 0, failed: 0 };
  const waiters = new Set<() => void>();
  let sequence = 0n;
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  let current: Promise<void> = Promise.resolve();
  let closed = false;

  const all = () => [...groups.values()].flat();
  const isEmpty = () => groups.size === 0;

  function settle(): void {
    if (!isEmpty() && !closed) return;
    for (const wake of waiters) wake();
  }

  function remove(m: Message): void {
    const list = groups.get(m.groupId) ?? [];
    const rest = list.filter((x) => x !== m);
    if (rest.length > 0) groups.set(m.groupId, rest);
    else groups.delete(m.groupId);
  }

  function deadLetter(m: Message, now: number): void {
    remove(m);
    dead.push({
      messageId: m.messageId, body: m.body, groupId: m.groupId, deduplicationId: m.deduplicationId,
      sequenceNumber: m.sequenceNumber, receiveCount: m.receiveCount,
      sentAt: new Date(m.sentAt).toISOString(), deadLetteredAt: new Date(now).toISOString(),
    });
  }

  /**
   * One ReceiveMessage under FIFO rules: a group is served in order from its oldest message, and not at
   * all while that message is in flight or waiting out its visibility timeout. A message that comes up
   * after maxReceiveCount receives goes to the dead letters instead, as the redrive policy does.
   */
  function receive(now: number): Message[] {
    const batch: Message[] = [];
    for (const list of [...groups.values()]) {
      for (const m of list) {
        if (batch.length >= batchSize || m.inFlight || m.visibleAt > now) break;
        if (m.receiveCount >= maxReceiveCount) {
          deadLetter(m, now);
          continue;
        }
        m.receiveCount++;
        m.firstReceivedAt ??= now;
        m.inFlight = true;
        m.visibleAt = now + visibilityTimeoutMs;
        batch.push(m);
      }
    }
    return batch;
  }

  /** Calls the consumer; deletes what succeeded, and what failed becomes visible when its timeout ends. */
  async function deliver(batch: Message[]): Promise<void> {
    counts.invocations++;
    counts.received += batch.length;
    const ids = new Set(batch.map((m) => m.messageId));
    let failed: Set<string>;
    try {
      const response = await options.handler({ Records: batch.map((m) => sqsRecord(m, name)) }, context());
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      // Lambda fails the whole batch when a reported identifier is not one of its messages.
      if ([...failed].some((id) => !ids.has(id))) failed = ids;
    } catch {
      counts.invocationErrors++;
      failed = ids;
    }
    for (const m of batch) {
      m.inFlight = false;
      if (failed.has(m.messageId)) {
        counts.failed++;
      } else {
        counts.deleted++;
        remove(m);
      }
    }
  }

  /** One poller: batches are delivered one after another, as long as there is something to receive. */
  async function run(): Promise<void> {
    busy = true;
    try {
      while (!closed) {
        const batch = receive(Date.now());
        settle();
        if (batch.length === 0) break;
        await deliver(batch);
        settle();
      }
    } finally {
      busy = false;
    }
    // Look again when the first message waiting out its visibility timeout comes back.
    const next = Math.min(...all().map((m) => m.visibleAt));
    if (Number.isFinite(next)) schedule(Math.min(pollMs, Math.max(0, next - Date.now())));
  }

  function schedule(delayMs: number): void {
    if (closed || busy) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!closed && !busy) current = run();
    }, delayMs);
    timer.unref();
  }

  return {
    name,
    send({ body, groupId, deduplicationId }) {
      if (closed) throw new Error(`queue ${name} is closed`);
      if (!groupId || groupId.length > 128) throw new Error('MessageGroupId must be 1 to 128 characters');
      if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES) throw new Error(`a message body is at most ${MAX_MESSAGE_BYTES} bytes`);
      const now = Date.now();
      const dedup = deduplicationId ?? createHash('sha256').update(body).digest('hex');
      for (const [id, entry] of seen) if (entry.until <= now) seen.delete(id);
      const earlier = seen.get(dedup);
      if (earlier) {
        counts.duplicates++;
        return { messageId: earlier.messageId, sequenceNumber: earlier.sequenceNumber, duplicate: true };
      }
      const m: Message = {
        messageId: randomUUID(),
        body,
        groupId,
        deduplicationId: dedup,
        sequenceNumber: String(++sequence).padStart(20, '0'),
        sentAt: now,
        receiveCount: 0,
        visibleAt: now,
        inFlight: false,
      };
      seen.set(dedup, { messageId: m.messageId, sequenceNumber: m.sequenceNumber, until: now + DEDUPLICATION_MS });
      groups.set(groupId, [...(groups.get(groupId) ?? []), m]);
      counts.sent++;
      schedule(0);
      return { messageId: m.messageId, sequenceNumber: m.sequenceNumber, duplicate: false };
    },
    stats() {
      const now = Date.now();
      const messages = all();
      return {
        messages: messages.length,
        inFlight: messages.filter((m) => m.inFlight).length,
        waiting: messages.filter((m) => !m.inFlight && m.visibleAt > now).length,
        groups: groups.size,
        ...counts,
        deadLetters: dead.length,
      };
    },
    deadLetters: () => dead.map((d) => ({ ...d })),
    drain(timeoutMs?: number) {
      return new Promise<boolean>((resolve) => {
        let limit: NodeJS.Timeout | undefined;
        const done = (drained: boolean) => {
          clearTimeout(limit);
          waiters.delete(wake);
          resolve(drained);
        };
        const wake = () => done(isEmpty());
        if (isEmpty() || closed) return done(isEmpty());
        waiters.add(wake);
        if (timeoutMs !== undefined) limit = setTimeout(() => done(isEmpty()), timeoutMs);
      });
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await current;
      settle();
    },
  };
}

export const MIGRATION_STATUS_PATH = '/_local/queues/migration-status';

/** The instance a migration moves, or undefined if the migration is not known (yet). */
async function instanceOf(migrationId: string): Promise<string | undefined> {
  try {
    return (await getMigration(runtime().store, migrationId)).instanceUuid;
  } catch (error) {
    if (error instanceof MigrationNotFound) return undefined;
    throw error;
  }
}

function reply(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/**
 * The local runner's stand-in for SendMessage on the migration status queue (local only: in AWS the
 * producers send to the real queue). POST the message body as is; `x-message-group-id` and
 * `x-message-deduplication-id` are the FIFO parameters. Without a group id, the migration's instance
 * is the group (as the contract has it), or the migration id if the migration is not known yet.
 * GET answers the queue's figures and dead letters.
 */
export function localQueueRoutes(queue: LocalQueue, groupOf = instanceOf) {
  return {
    prefix: '/_local/',
    async handle(request: LocalRequest): Promise<APIGatewayProxyStructuredResultV2> {
      const path = request.url.split('?')[0];
      if (path !== MIGRATION_STATUS_PATH) throw new HttpFailure(404, 'RouteNotFound', `No local route for ${request.method} ${path}.`);
      if (request.method === 'GET') return reply(200, { queue: queue.name, ...queue.stats(), deadLetters: queue.deadLetters() });
      if (request.method !== 'POST') {
        throw new HttpFailure(405, 'MethodNotAllowed', `${request.method} is not allowed on ${path}; use GET, POST.`, { allow: 'GET, POST' });
      }
      const body = (request.body ?? Buffer.alloc(0)).toString('utf8');
      const headers = request.headers ?? {};
      let groupId = headers['x-message-group-id'];
      if (!groupId) {
        let migrationId: unknown;
        try {
          migrationId = (JSON.parse(body) as { migrationId?: unknown } | null)?.migrationId;
        } catch {
          // A malformed body is sent as is (the consumer fails it); it only needs a group id.
        }
        if (typeof migrationId !== 'string' || migrationId === '') {
          throw new HttpFailure(400, 'BadRequest', 'The body names no migrationId: give the group in an x-message-group-id header.');
        }
        groupId = (await groupOf(migrationId)) ?? migrationId;
      }
      try {
        const sent = queue.send({ body, groupId, deduplicationId: headers['x-message-deduplication-id'] });
        return reply(202, { ...sent, groupId });
      } catch (error) {
        throw new HttpFailure(400, 'BadRequest', `${(error as Error).message}.`);
      }
    },
  };
}


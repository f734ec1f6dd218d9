// An in-memory SQS FIFO queue, so that a queue consumer runs here as it runs behind Lambda's SQS event
// source with ReportBatchItemFailures: ordered message groups, deduplication, a visibility timeout,
// receive counts and a dead-letter list (the redrive policy). It knows nothing of what the messages say;
// the product's queue and its route are in migration-status-queue.ts.
import { createHash, randomUUID } from 'node:crypto';
import { sqsRecord, type RecordedMessage } from './events';
import type { DeadLetter, FifoQueueOptions, LocalQueue, QueueStats, SendRequest, SendResult } from './fifo-queue-types';
export type {
  DeadLetter,
  FifoQueueOptions,
  LocalQueue,
  QueueHandler,
  QueueStats,
  SendRequest,
  SendResult,
} from './fifo-queue-types';

/** SQS refuses bodies over 256 KiB. */
const MAX_MESSAGE_BYTES = 256 * 1024;
/** SQS FIFO drops a message whose deduplication id was seen in the last 5 minutes. */
const DEDUPLICATION_MS = 5 * 60_000;

interface Message extends RecordedMessage {
  visibleAt: number;
  inFlight: boolean;
}

class FifoQueue implements LocalQueue {
  readonly name: string;
  private readonly batchSize: number;
  private readonly visibilityTimeoutMs: number;
  private readonly maxReceiveCount: number;
  private readonly pollMs: number;
  // Message groups in the order they appeared, each in send order; a message stays at its place until deleted.
  private readonly groups = new Map<string, Message[]>();
  private readonly seen = new Map<string, { messageId: string; sequenceNumber: string; until: number }>();
  private readonly dead: DeadLetter[] = [];
  private readonly counts = {
    sent: 0,
    duplicates: 0,
    invocations: 0,
    invocationErrors: 0,
    received: 0,
    deleted: 0,
    failed: 0,
  };
  private readonly waiters = new Set<() => void>();
  private sequence = 0n;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private current: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: FifoQueueOptions) {
    this.name = options.name;
    this.batchSize = options.batchSize ?? 10;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs ?? 30_000;
    this.maxReceiveCount = options.maxReceiveCount ?? 5;
    this.pollMs = options.pollMs ?? 100;
    if (this.batchSize < 1 || this.batchSize > 10) throw new Error('a FIFO queue delivers batches of 1 to 10 messages');
  }

  send({ body, groupId, deduplicationId }: SendRequest): SendResult {
    if (this.closed) throw new Error(`queue ${this.name} is closed`);
    if (!groupId || groupId.length > 128) throw new Error('MessageGroupId must be 1 to 128 characters');
    if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES)
      throw new Error(`a message body is at most ${MAX_MESSAGE_BYTES} bytes`);
    const now = Date.now();
    const dedup = deduplicationId ?? createHash('sha256').update(body).digest('hex');
    for (const [id, entry] of this.seen) if (entry.until <= now) this.seen.delete(id);
    const earlier = this.seen.get(dedup);
    if (earlier) {
      this.counts.duplicates++;
      return { messageId: earlier.messageId, sequenceNumber: earlier.sequenceNumber, duplicate: true };
    }
    const m: Message = {
      messageId: randomUUID(),
      body,
      groupId,
      deduplicationId: dedup,
      sequenceNumber: String(++this.sequence).padStart(20, '0'),
      sentAt: now,
      receiveCount: 0,
      visibleAt: now,
      inFlight: false,
    };
    this.seen.set(dedup, { messageId: m.messageId, sequenceNumber: m.sequenceNumber, until: now + DEDUPLICATION_MS });
    this.groups.set(groupId, [...(this.groups.get(groupId) ?? []), m]);
    this.counts.sent++;
    this.schedule(0);
    return { messageId: m.messageId, sequenceNumber: m.sequenceNumber, duplicate: false };
  }

  stats(): QueueStats {
    const now = Date.now();
    const messages = this.all();
    return {
      messages: messages.length,
      inFlight: messages.filter((m) => m.inFlight).length,
      waiting: messages.filter((m) => !m.inFlight && m.visibleAt > now).length,
      groups: this.groups.size,
      ...this.counts,
      deadLetters: this.dead.length,
    };
  }

  deadLetters(): DeadLetter[] {
    return this.dead.map((d) => ({ ...d }));
  }

  drain(timeoutMs?: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let limit: NodeJS.Timeout | undefined;
      const done = (drained: boolean) => {
        clearTimeout(limit);
        this.waiters.delete(wake);
        resolve(drained);
      };
      const wake = () => done(this.isEmpty());
      if (this.isEmpty() || this.closed) return done(this.isEmpty());
      this.waiters.add(wake);
      if (timeoutMs !== undefined) limit = setTimeout(() => done(this.isEmpty()), timeoutMs);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.current;
    this.settle();
  }

  private all(): Message[] {
    return [...this.groups.values()].flat();
  }

  private isEmpty(): boolean {
    return this.groups.size === 0;
  }

  private settle(): void {
    if (!this.isEmpty() && !this.closed) return;
    for (const wake of this.waiters) wake();
  }

  private remove(m: Message): void {
    const rest = (this.groups.get(m.groupId) ?? []).filter((x) => x !== m);
    if (rest.length > 0) this.groups.set(m.groupId, rest);
    else this.groups.delete(m.groupId);
  }

  private deadLetter(m: Message, now: number): void {
    this.remove(m);
    this.dead.push({
      messageId: m.messageId,
      body: m.body,
      groupId: m.groupId,
      deduplicationId: m.deduplicationId,
      sequenceNumber: m.sequenceNumber,
      receiveCount: m.receiveCount,
      sentAt: new Date(m.sentAt).toISOString(),
      deadLetteredAt: new Date(now).toISOString(),
    });
  }

  /**
   * One ReceiveMessage under FIFO rules: a group is served in order from its oldest message, and not at
   * all while that message is in flight or waiting out its visibility timeout. A message that comes up
   * after maxReceiveCount receives goes to the dead letters instead, as the redrive policy does.
   */
  private receive(now: number): Message[] {
    const batch: Message[] = [];
    for (const list of [...this.groups.values()]) {
      for (const m of list) {
        if (batch.length >= this.batchSize || m.inFlight || m.visibleAt > now) break;
        if (m.receiveCount >= this.maxReceiveCount) {
          this.deadLetter(m, now);
          continue;
        }
        m.receiveCount++;
        m.firstReceivedAt ??= now;
        m.inFlight = true;
        m.visibleAt = now + this.visibilityTimeoutMs;
        batch.push(m);
      }
    }
    return batch;
  }

  /** The messages of `batch` the consumer failed: those it reported, or all of them if it threw. */
  private async invoke(batch: Message[]): Promise<Set<string>> {
    const ids = new Set(batch.map((m) => m.messageId));
    try {
      const response = await this.options.handler(
        { Records: batch.map((m) => sqsRecord(m, this.name)) },
        this.options.context(),
      );
      const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      // Lambda fails the whole batch when a reported identifier is not one of its messages.
      return [...failed].some((id) => !ids.has(id)) ? ids : failed;
    } catch {
      this.counts.invocationErrors++;
      return ids;
    }
  }

  /** Calls the consumer; deletes what succeeded, and what failed becomes visible when its timeout ends. */
  private async deliver(batch: Message[]): Promise<void> {
    this.counts.invocations++;
    this.counts.received += batch.length;
    const failed = await this.invoke(batch);
    for (const m of batch) {
      m.inFlight = false;
      if (failed.has(m.messageId)) {
        this.counts.failed++;
      } else {
        this.counts.deleted++;
        this.remove(m);
      }
    }
  }

  /** One poller: batches are delivered one after another, as long as there is something to receive. */
  private async run(): Promise<void> {
    this.busy = true;
    try {
      while (!this.closed) {
        const batch = this.receive(Date.now());
        this.settle();
        if (batch.length === 0) break;
        await this.deliver(batch);
        this.settle();
      }
    } finally {
      this.busy = false;
    }
    // Look again when the first message waiting out its visibility timeout comes back.
    const next = Math.min(...this.all().map((m) => m.visibleAt));
    if (Number.isFinite(next)) this.schedule(Math.min(this.pollMs, Math.max(0, next - Date.now())));
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.busy) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.closed && !this.busy) this.current = this.run();
    }, delayMs);
    this.timer.unref();
  }
}

export function createFifoQueue(options: FifoQueueOptions): LocalQueue {
  return new FifoQueue(options);
}

// What the in-memory FIFO queue (fifo-queue.ts) takes and answers: its options, a send, its statistics and
// its dead letters, as the local runner's queue routes and the tests see them.
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';

export type QueueHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface FifoQueueOptions {
  handler: QueueHandler;
  /** Queue name; a FIFO queue's ends in .fifo. */
  name: string;
  /** The Lambda context each invocation gets. */
  context: () => Context;
  /** Records per invocation, at most 10 for a FIFO queue. */
  batchSize?: number;
  /** How long a received message stays invisible, counted from its receipt (SQS's default is 30 s). */
  visibilityTimeoutMs?: number;
  /** The redrive policy: a message received this many times without success goes to the dead letters. */
  maxReceiveCount?: number;
  /** How often an idle queue with messages waiting for their visibility timeout looks again. */
  pollMs?: number;
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

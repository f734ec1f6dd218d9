// The SQS FIFO consumer of migration status updates: the queue form of POST /migrations/{id}/status.
// Body `{ migrationId, status, sequence }`, MessageGroupId = the instance UUID, ReportBatchItemFailures on.
// A message that can never apply is rejected: acknowledged at once, logged whole and counted, so it never
// holds its instance's later statuses back (rule OP1). Only a transient failure is reported: it comes back
// after the visibility timeout, and the redrive policy moves one that keeps failing to the dead-letter
// queue. A repeated, stale or out-of-order status is a success: changeMigrationStatus ignores it.
import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parse, parseJson } from '../lib/api/http';
import { logger } from '../lib/api/logger';
import { count } from '../lib/api/metrics';
import { observed } from '../lib/api/observed';
import { migrationIdSchema } from '../lib/api/schemas';
import { sequenceSchema, statusUpdateSchema } from '../lib/api/schemas-moves';
import { runtime } from '../lib/api/runtime';
import * as z from 'zod/mini';
import '../lib/api/zod';
import { AppError, type ErrorCode } from '../lib/errors';
import { changeMigrationStatus, type StatusResult } from '../lib/store';

/** The queue's message: the HTTP body plus the migration, and the sequence is required (it orders redeliveries). */
export const queueMessageSchema = z.extend(statusUpdateSchema, {
  migrationId: migrationIdSchema,
  sequence: sequenceSchema,
});

export type QueueMessage = z.output<typeof queueMessageSchema>;

function parseMessage(body: string): QueueMessage {
  return parse(queueMessageSchema, parseJson(body), 'body');
}

/** The migration a body names, even a body that failed validation, for the log. */
function migrationIdOf(body: string): string | undefined {
  try {
    const id = (JSON.parse(body) as { migrationId?: unknown } | null)?.migrationId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** What becomes of a message that failed: rejected for good (acknowledged), or retried by the queue. */
type Disposition = 'reject' | 'retry';

/** Rule OP1: only what may succeed later is retried; an unexpected failure (a crash, a timeout) may. */
export function dispositionOf(error: unknown): Disposition {
  if (!(error instanceof AppError)) return 'retry';
  const code: ErrorCode = error.code;
  switch (code) {
    // Malformed or invalid, a migration never claimed, a status its move cannot take: the same every time;
    // and Forbidden, as the queue carries no caller (its policy is the guard, rule W6).
    case 'ValidationError':
    case 'MigrationNotFound':
    case 'InvalidTransition':
    case 'Forbidden':
      return 'reject';
    // Placement's (NoValidHost, Group*) too: a status change raises none of them; were one to, the fleet may change.
    case 'Unavailable':
    case 'NodeNotFound':
    case 'InstanceNotFound':
    case 'InsufficientResources':
    case 'InstanceConflict':
    case 'InvalidMove':
    case 'NodeInUse':
    case 'NoValidHost':
    case 'GroupPolicyViolation':
    case 'GroupInUse':
    case 'GroupNotFound':
      return 'retry';
  }
}

/** One message: applied, or rejected (and acknowledged), or thrown so that the processor reports it. */
async function applyStatus(record: SQSRecord): Promise<StatusResult | 'rejected'> {
  try {
    const { migrationId, status, sequence } = parseMessage(record.body);
    return await changeMigrationStatus(runtime().store, migrationId, status, sequence);
  } catch (error) {
    const details = {
      messageId: record.messageId,
      migrationId: migrationIdOf(record.body),
      messageGroupId: record.attributes.MessageGroupId,
      receiveCount: Number(record.attributes.ApproximateReceiveCount),
      error: error instanceof AppError ? error.code : (error as Error).name,
      reason: (error as Error).message,
    };
    const disposition = dispositionOf(error);
    switch (disposition) {
      case 'reject':
        // The body in full: the log is where an operator finds it to correct and send again.
        logger.error('status message can never apply: rejected, its group goes on', { ...details, body: record.body });
        count('StatusMessagesRejected');
        return 'rejected';
      case 'retry':
        logger.warn('status message failed; the queue will deliver it again', {
          ...details,
          ...(error instanceof AppError ? {} : { stack: (error as Error).stack }),
        });
        throw error;
    }
  }
}

async function consume(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  // One processor per invocation: Lambda never overlaps invocations in a container, but the local
  // runner and the tests may, and the processor keeps the batch's state.
  const processor = new SqsFifoPartialProcessorAsync();
  const response = await processPartialResponse(event, applyStatus, processor, {
    context,
    // Only the failing message's group (one instance) is held back; other instances' statuses apply.
    skipGroupOnError: true,
    // A batch whose every message failed is reported like any other, not thrown: the queue sees the
    // same thing either way, and the function's error metric stays for real crashes.
    throwOnFullBatchFailure: false,
  });
  count('StatusMessages', event.Records.length);
  count('StatusMessagesFailed', response.batchItemFailures.length);
  return response;
}

export const handler = observed<SQSEvent, SQSBatchResponse>(consume);

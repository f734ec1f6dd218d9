// The SQS FIFO consumer of migration status updates: the queue form of POST /migrations/{id}/status.
// Body `{ migrationId, status, sequence }`, MessageGroupId = the instance UUID, ReportBatchItemFailures on.
// A failed message is reported and comes back after the visibility timeout; the queue's redrive policy
// moves one that keeps failing (maxReceiveCount) to the dead-letter queue. A repeated, stale or
// out-of-order status is a success: changeMigrationStatus ignores it and changes nothing.
import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import { parse, parseJson } from '../lib/api/http';
import { logger } from '../lib/api/logger';
import { count } from '../lib/api/metrics';
import { observed } from '../lib/api/observed';
import { migrationIdSchema, statusUpdateSchema } from '../lib/api/schemas';
import { runtime } from '../lib/api/runtime';
import { AppError, InvalidTransition, ValidationError } from '../lib/errors';
import { changeMigrationStatus, type StatusResult } from '../lib/store';

/** The queue's message: the HTTP body plus the migration, and the sequence is required (it orders redeliveries). */
export const queueMessageSchema = statusUpdateSchema.extend({
  migrationId: migrationIdSchema,
  sequence: statusUpdateSchema.shape.sequence.unwrap(),
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

/**
 * One message. Every failure is thrown, so that the processor reports it: a malformed body or an
 * InvalidTransition never applies and ends in the dead-letter queue after maxReceiveCount receives;
 * MigrationNotFound (a status that overtook its move claim) and Unavailable may apply on a redelivery.
 */
async function applyStatus(record: SQSRecord): Promise<StatusResult> {
  try {
    const { migrationId, status, sequence } = parseMessage(record.body);
    return await changeMigrationStatus(runtime().store, migrationId, status, sequence);
  } catch (error) {
    const known = error instanceof AppError;
    const details = {
      messageId: record.messageId,
      migrationId: migrationIdOf(record.body),
      messageGroupId: record.attributes.MessageGroupId,
      receiveCount: Number(record.attributes.ApproximateReceiveCount),
      error: known ? error.code : (error as Error).name,
      reason: (error as Error).message,
    };
    if (error instanceof InvalidTransition || error instanceof ValidationError) {
      logger.warn(
        'status message can never apply; it goes to the dead-letter queue after maxReceiveCount receives',
        details,
      );
    } else if (known) {
      logger.warn('status message failed; it will be retried', details);
    } else {
      logger.error('status message failed unexpectedly; it will be retried', {
        ...details,
        stack: (error as Error).stack,
      });
    }
    throw error;
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

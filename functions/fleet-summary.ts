// The table stream's consumer: node-item changes folded into the fleet summary (lib/store/fleet-summary.ts), one
// UpdateItem per touched shard per batch. Every write is conditioned on the node's generation, so a redelivered or
// bisected batch writes nothing older than what is there. A failed batch is reported whole from its first record
// (the stream's order per item must hold), so the event source retries it and bisects it.
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { logger } from '../lib/api/logger';
import { count } from '../lib/api/metrics';
import { observed } from '../lib/api/observed';
import { runtime } from '../lib/api/runtime';
import { applyChanges, changesOfRecords } from '../lib/store';

export async function consume(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const changes = changesOfRecords(event.Records);
  try {
    const writes = await applyChanges(runtime().store, changes);
    count('FleetSummaryChanges', changes.length);
    count('FleetSummaryWrites', writes);
    return { batchItemFailures: [] };
  } catch (error) {
    logger.warn('fleet summary batch failed; the stream delivers it again', { error: (error as Error).message });
    const first = event.Records[0]?.dynamodb?.SequenceNumber;
    return { batchItemFailures: first ? [{ itemIdentifier: first }] : [] };
  }
}

export const handler = observed<DynamoDBStreamEvent, DynamoDBBatchResponse>(consume);

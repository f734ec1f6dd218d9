// The product's queue: the migration status FIFO queue (its consumer functions/migration-status-queue.ts)
// on the generic local queue, and the local runner's route that sends to it.
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { MigrationNotFound } from '../lib/errors';
import { runtime } from '../lib/api/runtime';
import { migrationIdSchema } from '../lib/api/schemas';
import { getMigration } from '../lib/store';
import { MAX_RECEIVE_COUNT } from '../lib/status-retry';
import { lambdaContext } from './events';
import { createFifoQueue, type FifoQueueOptions, type LocalQueue } from './fifo-queue';
import { HttpFailure, type LocalRequest } from './server';

export type LocalQueueOptions = Omit<FifoQueueOptions, 'name' | 'context'> &
  Partial<Pick<FifoQueueOptions, 'name' | 'context'>>;

/** The migration status queue, its records as Lambda's event source hands them to migration-status-queue, redriven as in AWS. */
export function createLocalQueue(options: LocalQueueOptions): LocalQueue {
  return createFifoQueue({
    name: 'migration-status.fifo',
    context: () => lambdaContext('migration-status-queue'),
    maxReceiveCount: MAX_RECEIVE_COUNT,
    ...options,
  });
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
 * Without a group id, the migration's instance is the group (as the contract has it), or the migration
 * id if the migration is not known yet.
 */
async function groupIdOf(
  body: string,
  headers: Record<string, string>,
  groupOf: (migrationId: string) => Promise<string | undefined>,
): Promise<string> {
  const given = headers['x-message-group-id'];
  if (given) return given;
  let migrationId: unknown;
  try {
    migrationId = (JSON.parse(body) as { migrationId?: unknown } | null)?.migrationId;
  } catch {
    // A malformed body is sent as is (the consumer fails it); it only needs a group id.
  }
  if (typeof migrationId !== 'string' || migrationId === '') {
    throw new HttpFailure(
      400,
      'BadRequest',
      'The body names no migrationId: give the group in an x-message-group-id header.',
    );
  }
  // Looked up in the table to find its instance: an id DynamoDB cannot hold as a key is refused here.
  const valid = migrationIdSchema.safeParse(migrationId);
  if (!valid.success) {
    throw new HttpFailure(400, 'BadRequest', `The body names no valid migrationId: ${valid.error.issues[0]?.message}.`);
  }
  return (await groupOf(migrationId)) ?? migrationId;
}

/**
 * The local runner's stand-in for SendMessage on the migration status queue (local only: in AWS the
 * producers send to the real queue). POST the message body as is; `x-message-group-id` and
 * `x-message-deduplication-id` are the FIFO parameters (see groupIdOf without a group id).
 * GET answers the queue's figures and dead letters.
 */
export function localQueueRoutes(queue: LocalQueue, groupOf = instanceOf) {
  return {
    prefix: '/_local/',
    async handle(request: LocalRequest): Promise<APIGatewayProxyStructuredResultV2> {
      const path = request.url.split('?')[0];
      if (path !== MIGRATION_STATUS_PATH)
        throw new HttpFailure(404, 'RouteNotFound', `No local route for ${request.method} ${path}.`);
      if (request.method === 'GET')
        return reply(200, { queue: queue.name, ...queue.stats(), deadLetters: queue.deadLetters() });
      if (request.method !== 'POST') {
        throw new HttpFailure(405, 'MethodNotAllowed', `${request.method} is not allowed on ${path}; use GET, POST.`, {
          allow: 'GET, POST',
        });
      }
      const body = (request.body ?? Buffer.alloc(0)).toString('utf8');
      const headers = request.headers ?? {};
      const groupId = await groupIdOf(body, headers, groupOf);
      try {
        const sent = queue.send({ body, groupId, deduplicationId: headers['x-message-deduplication-id'] });
        return reply(202, { ...sent, groupId });
      } catch (error) {
        throw new HttpFailure(400, 'BadRequest', `${(error as Error).message}.`);
      }
    },
  };
}

// The local queue route checks the migrationId it looks up before it reaches DynamoDB (a key has a size limit).
import { createLocalQueue, localQueueRoutes, MIGRATION_STATUS_PATH } from '../../local/migration-status-queue';
import { HttpFailure } from '../../local/server';
import { freshTable } from '../support/table';

beforeAll(async () => {
  await freshTable('queue-route');
});

test.each([
  ['a migrationId of 3,000 characters', 'm'.repeat(3000)],
  ['a migrationId of 1,100 multi-byte characters', 'é'.repeat(1100)],
])('the local queue route refuses %s with 400, sending nothing', async (_what, migrationId) => {
  const queue = createLocalQueue({ handler: async () => {}, pollMs: 5 });
  try {
    const routes = localQueueRoutes(queue);
    const body = Buffer.from(JSON.stringify({ migrationId, status: 'migrating', sequence: 1 }));
    const failure = await routes.handle({ method: 'POST', url: MIGRATION_STATUS_PATH, body }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(HttpFailure);
    expect((failure as HttpFailure).statusCode).toBe(400);
    expect(queue.stats()).toMatchObject({ sent: 0 });
  } finally {
    await queue.close();
  }
});

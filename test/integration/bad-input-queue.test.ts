// The status queue's messages are bodies too (issue 13, item 10): one that names a key twice never applies,
// so it is rejected at once (rule OP1).
import { randomUUID } from 'node:crypto';
import { handler } from '../../functions/migration-status-queue';
import { lambdaContext, sqsRecord } from '../../local/events';
import { api } from '../support/api';
import { F1, N0, uuid } from '../support/fixtures';
import { freshTable } from '../support/table';

beforeAll(async () => {
  await freshTable('bad-queue');
});

test('a status message with a duplicate key is rejected (acknowledged, not retried) and changes nothing', async () => {
  const instanceUuid = uuid();
  await api('PUT', '/nodes/q-a', N0);
  await api('PUT', '/nodes/q-b', N0);
  expect((await api('POST', '/nodes/q-a/instances', { instanceUuid, flavor: F1 })).status).toBe(201);
  const move = { migrationId: 'q-m', instanceUuid, moveType: 'migration', sourceNodeId: 'q-a' };
  expect((await api('POST', '/nodes/q-b/move-claims', move)).status).toBe(201);
  const before = (await api('GET', '/migrations/q-m')).body;
  const messageId = randomUUID();
  const body = '{"migrationId": "q-m", "status": "failed", "status": "migrating", "sequence": 1}';
  const record = sqsRecord({
    messageId,
    body,
    groupId: instanceUuid,
    deduplicationId: randomUUID(),
    sequenceNumber: '1'.padStart(20, '0'),
    sentAt: Date.now(),
    receiveCount: 1,
  });
  const response = await handler({ Records: [record] }, lambdaContext('migration-status-queue'));
  expect(response.batchItemFailures).toEqual([]);
  expect((await api('GET', '/migrations/q-m')).body).toEqual(before);
});

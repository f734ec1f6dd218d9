// The time budget (issue 13, item 9): no retry, and no DynamoDB request, starts that could outlast the
// invocation; the SDK's timeout errors are retried as failures that may have committed.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { Unavailable } from '../../../lib/errors';
import { createStore } from '../../../lib/store';
import { isAmbiguous, isTransient, outOfTime, RESERVE_MS, withRetry } from '../../../lib/store/retry';

const policy = { attempts: 8, baseMs: 0, capMs: 0 };
const timedOut = () => Object.assign(new Error('request timed out'), { name: 'TimeoutError', code: 'ETIMEDOUT' });

test('the timeouts the SDK raises (request, connection, socket) are transient and ambiguous', () => {
  const connection = Object.assign(new Error('no connection in time'), { name: 'TimeoutError' });
  for (const error of [timedOut(), connection]) {
    expect(isTransient(error)).toBe(true);
    expect(isAmbiguous(error)).toBe(true);
  }
});

test('a request may start only while its timeout and the reserve are left', () => {
  const at = (left: number) => ({ requestMs: 1000, remainingMs: () => left });
  expect(outOfTime(at(1000 + RESERVE_MS))).toBe(false);
  expect(outOfTime(at(1000 + RESERVE_MS - 1))).toBe(true);
  expect(outOfTime(at(5000), 4000)).toBe(true);
  expect(outOfTime({ requestMs: 1000, remainingMs: () => undefined })).toBe(false);
  expect(outOfTime(undefined)).toBe(false);
});

test('the retries stop with 503 when no further attempt could end in time, keeping the last failure', async () => {
  let left = 3000;
  let attempts = 0;
  const last = timedOut();
  const error = await withRetry(
    { retry: { policy, budget: { requestMs: 1000, remainingMs: () => left } } },
    async () => {
      attempts++;
      left -= 1000; // each attempt takes its whole timeout
      throw last;
    },
  ).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(Unavailable);
  expect((error as Error).cause).toBe(last);
  expect(attempts).toBe(2);
});

test('a store sends no request to DynamoDB when the invocation could end first', async () => {
  let left = 10_000;
  const store = createStore(
    { tableName: 't', endpoint: 'http://127.0.0.1:9', requestTimeoutMs: 1000 },
    { remainingMs: () => left },
  );
  let sent = 0;
  store.client.middlewareStack.add(
    () => async () => {
      sent++;
      return { output: { $metadata: {} }, response: {} };
    },
    { step: 'finalizeRequest', name: 'count' },
  );
  await store.doc.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }));
  expect(sent).toBe(1);
  left = 1000 + RESERVE_MS - 1;
  await expect(store.doc.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }))).rejects.toBeInstanceOf(
    Unavailable,
  );
  expect(sent).toBe(1);
});

// A stalled DynamoDB (issue 13, item 9): every request has a timeout well below the Lambda's, the retries
// stop while there is still time to answer, and the answer is 503 with Retry-After; the write that timed out
// may land later, and a retry of the same request recognises it. The ledger stays exact throughout.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { handler as claimHandler } from '../../functions/claim-instance';
import { createStore, type Store } from '../../lib/store';
import { httpEvent, lambdaContext } from '../../local/events';
import { api } from '../support/api';
import { F1, N0, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { stallProxy, type StallProxy } from '../support/stall-proxy';
import { freshTable } from '../support/table';

const REQUEST_TIMEOUT_MS = 600;
const saved = { endpoint: process.env.DYNAMODB_ENDPOINT, timeout: process.env.DYNAMODB_REQUEST_TIMEOUT_MS };
let proxy: StallProxy;
/** The test's view of the table, straight to DynamoDB Local: never stalled. */
let direct: Store;

beforeAll(async () => {
  proxy = await stallProxy(saved.endpoint as string);
  process.env.DYNAMODB_ENDPOINT = proxy.url;
  process.env.DYNAMODB_REQUEST_TIMEOUT_MS = String(REQUEST_TIMEOUT_MS);
  const through = await freshTable('stalled');
  direct = createStore({ tableName: through.tableName, endpoint: saved.endpoint });
});

afterAll(async () => {
  proxy.resume();
  process.env.DYNAMODB_ENDPOINT = saved.endpoint;
  if (saved.timeout === undefined) delete process.env.DYNAMODB_REQUEST_TIMEOUT_MS;
  else process.env.DYNAMODB_REQUEST_TIMEOUT_MS = saved.timeout;
  (await import('../../lib/api/runtime')).resetRuntime();
  await proxy.close();
});

let seq = 0;
async function node(): Promise<string> {
  const id = `stalled-${++seq}`;
  expect((await api('PUT', `/nodes/${id}`, N0)).status).toBe(201);
  return id;
}

/** The claim as the Lambda would run it, with `budgetMs` left before the Lambda is cut. */
async function claim(nodeId: string, body: object, budgetMs: number) {
  const deadline = Date.now() + budgetMs;
  const context: Context = {
    ...lambdaContext('claim-instance'),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  const event = httpEvent({
    method: 'POST',
    route: '/nodes/{nodeId}/instances',
    path: `/nodes/${nodeId}/instances`,
    pathParameters: { nodeId },
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const started = Date.now();
  const result = await claimHandler(event, context);
  return { ...result, ms: Date.now() - started };
}

const owner = async (instanceUuid: string) =>
  (
    await direct.doc.send(
      new GetCommand({
        TableName: direct.tableName,
        Key: { pk: `INSTANCE#${instanceUuid}`, sk: 'OWNER' },
        ConsistentRead: true,
      }),
    )
  ).Item;

async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out waiting');
}

test('a claim on a store stalled past the time left answers 503 with Retry-After in time; its late write counts once', async () => {
  const id = await node();
  const body = { instanceUuid: uuid(), flavor: F1 };
  proxy.stall();
  // Without request timeouts the claim would wait for the store: the stall ends on its own after 8 s.
  const safety = setTimeout(() => proxy.resume(), 8_000);
  const res = await claim(id, body, 2_500).finally(() => clearTimeout(safety));
  expect(res.statusCode).toBe(503);
  expect(JSON.parse(res.body ?? '{}').error).toBe('Unavailable');
  expect(res.headers?.['retry-after']).toBe('1');
  // Answered before the Lambda's deadline, with room for the answer.
  expect(res.ms).toBeLessThan(2_500);
  expect(await owner(body.instanceUuid)).toBeUndefined();

  proxy.resume();
  // The held writes reach DynamoDB: the first lands, the retries' copies are refused by their conditions.
  await eventually(async () => (await owner(body.instanceUuid)) !== undefined);
  await new Promise((r) => setTimeout(r, 300));
  let ledger = await expectLedgerExact(direct, id);
  expect(ledger.instances).toHaveLength(1);
  expect(ledger.node.vcpusUsed).toBe(1);

  // The client's retry of the same claim finds it already made.
  expect((await api('POST', `/nodes/${id}/instances`, body)).status).toBe(200);
  ledger = await expectLedgerExact(direct, id);
  expect(ledger.instances).toHaveLength(1);
  expect(ledger.node.memoryMbUsed).toBe(128);
});

test('a claim whose first write times out and lands during the retry recognises its own write', async () => {
  const id = await node();
  const body = { instanceUuid: uuid(), flavor: F1 };
  proxy.stall();
  // After the first attempt timed out and while the second waits on the stalled store.
  const resume = setTimeout(() => proxy.resume(), REQUEST_TIMEOUT_MS + 300);
  const res = await claim(id, body, 10_000).finally(() => clearTimeout(resume));
  proxy.resume();
  expect(res.statusCode).toBe(201);
  expect(JSON.parse(res.body ?? '{}')).toMatchObject({ instanceUuid: body.instanceUuid, vcpus: 1 });
  await new Promise((r) => setTimeout(r, 300));
  const ledger = await expectLedgerExact(direct, id);
  expect(ledger.instances).toHaveLength(1);
  expect(ledger.node.vcpusUsed).toBe(1);
  expect(ledger.node.generation).toBe(2);
});

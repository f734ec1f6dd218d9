// What the handlers send to X-Ray when Lambda traces them (rule OP2): a daemon of the test's own
// receives the documents over UDP, as Lambda's daemon would, for requests against the run's DynamoDB Local.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { Subsegment } from '../../lib/api/xray';
import type { Reply } from '../support/api';
import { freshTable } from '../support/table';

let api: (method: string, path: string, body?: unknown) => Promise<Reply>;
let daemon: Socket;
const received: Subsegment[] = [];
const saved = { ...process.env };

beforeAll(async () => {
  daemon = createSocket('udp4');
  daemon.on('message', (message) => {
    const [header, body] = message.toString('utf8').split('\n');
    expect(JSON.parse(header!)).toEqual({ format: 'json', version: 1 });
    received.push(JSON.parse(body!) as Subsegment);
  });
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
  process.env.AWS_XRAY_DAEMON_ADDRESS = `127.0.0.1:${(daemon.address() as AddressInfo).port}`;
  process.env.AWS_LAMBDA_FUNCTION_NAME = 'capacity-tracker-test';
  process.env._HANDLER = 'index.handler';
  await freshTable('tracing');
  ({ api } = await import('../support/api'));
});

afterAll(() => {
  process.env = saved;
  daemon.close();
});

/** A new invocation's trace, as Lambda sets it; returns the facade segment's root and id. */
function invocation(sampled = true): { root: string; facade: string } {
  const root = `1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
  const facade = randomBytes(8).toString('hex');
  process.env._X_AMZN_TRACE_ID = `Root=${root};Parent=${facade};Sampled=${sampled ? 1 : 0};Lineage=a:0`;
  return { root, facade };
}

/** The documents of one trace, once its handler subsegment (sent last) has arrived. */
async function documentsOf(root: string): Promise<Subsegment[]> {
  for (let i = 0; i < 100 && !received.some((d) => d.trace_id === root && d.name.startsWith('## ')); i++)
    await new Promise((resolve) => setTimeout(resolve, 20));
  return received.filter((d) => d.trace_id === root);
}

const inventory = { vcpus: 8, memoryMb: 8192, localGb: 80 };

test('an invocation is a subsegment of the facade, and each DynamoDB request a subsegment of it', async () => {
  const first = invocation();
  expect((await api('PUT', '/nodes/trace-1', inventory)).status).toBe(201);
  const second = invocation();
  expect((await api('GET', '/nodes/trace-1')).status).toBe(200);

  for (const [i, { root, facade }] of [first, second].entries()) {
    const docs = await documentsOf(root);
    const handler = docs.find((d) => d.name === '## index.handler');
    expect(handler).toMatchObject({
      type: 'subsegment',
      parent_id: facade,
      annotations: { ColdStart: i === 0, Service: 'capacity-tracker' },
    });
    expect(handler?.fault).toBeUndefined();
    const calls = docs.filter((d) => d !== handler);
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(call).toMatchObject({
        name: 'DynamoDB',
        namespace: 'aws',
        parent_id: handler!.id,
        aws: { table_name: process.env.TABLE_NAME, region: process.env.AWS_REGION, retries: 0 },
        http: { response: { status: 200 } },
      });
      expect(call.aws?.request_id).toEqual(expect.any(String));
      expect(call.start_time).toBeGreaterThanOrEqual(handler!.start_time);
      expect(call.end_time).toBeLessThanOrEqual(handler!.end_time!);
    }
    expect(new Set(docs.map((d) => d.id)).size).toBe(docs.length);
  }
  expect((await documentsOf(second.root)).map((d) => d.aws?.operation)).toContain('Query');
});

test('an invocation Lambda did not sample sends nothing', async () => {
  const { root } = invocation(false);
  expect((await api('GET', '/nodes/trace-1')).status).toBe(200);
  // The sampled request after it is sent once it is done; by then the unsampled one's documents would be here.
  const next = invocation();
  await api('GET', '/nodes/trace-1');
  expect((await documentsOf(next.root)).length).toBeGreaterThan(0);
  expect(received.filter((d) => d.trace_id === root)).toEqual([]);
});

test('a DynamoDB request that fails is an error with its cause, and the failed invocation a fault', async () => {
  const { resetRuntime } = await import('../../lib/api/runtime');
  const tableName = process.env.TABLE_NAME;
  process.env.TABLE_NAME = 'tracing-no-such-table';
  resetRuntime();
  try {
    const { root } = invocation();
    expect((await api('GET', '/nodes/trace-1')).status).toBe(500);
    const docs = await documentsOf(root);
    const handler = docs.find((d) => d.name === '## index.handler');
    expect(handler).toMatchObject({ fault: true, cause: { exceptions: [{ type: 'ResourceNotFoundException' }] } });
    expect(docs.find((d) => d.name === 'DynamoDB')).toMatchObject({
      parent_id: handler!.id,
      error: true,
      http: { response: { status: 400 } },
      aws: { table_name: 'tracing-no-such-table' },
      cause: { exceptions: [{ type: 'ResourceNotFoundException', remote: true }] },
    });
  } finally {
    process.env.TABLE_NAME = tableName;
    resetRuntime();
  }
});

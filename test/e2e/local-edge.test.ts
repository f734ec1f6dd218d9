// The local runner's edge over real sockets (the server in this process, on the run's DynamoDB Local): what a
// web page of another site or a DNS rebinding attempt could make a browser send is refused before any handler
// runs; HEAD answers like GET without a body; requests Node cannot parse get the JSON error shape too.
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { webFile } from '../../scripts/web-files';
import { createLocalQueue, localQueueRoutes, MIGRATION_STATUS_PATH } from '../../local/migration-status-queue';
import { createLocalServer, type LocalServer } from '../../local/server';
import { N0, F1 } from '../support/contract';
import { freshTable } from '../support/table';
import type { Store } from '../../lib/store';
import { ScanCommand } from '@aws-sdk/client-dynamodb';

let server: LocalServer;
let store: Store;
let port: number;
const queue = createLocalQueue({ handler: async () => ({ batchItemFailures: [] }), visibilityTimeoutMs: 1_000 });

beforeAll(async () => {
  store = await freshTable('edge');
  server = createLocalServer({ port: 0, localRoutes: localQueueRoutes(queue), staticFiles: webFile });
  port = Number(new URL((await server.listen()).url).port);
});

afterAll(async () => {
  await server.close();
  await queue.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request with exactly these headers (fetch would set Host and content-type itself). */
function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = (answer: Answer) => JSON.parse(answer.text) as { error: string; message: string };
const host = () => `127.0.0.1:${port}`;

/** What the table holds, every item. */
async function everything(): Promise<unknown[]> {
  const { Items = [] } = await store.client.send(new ScanCommand({ TableName: store.tableName, ConsistentRead: true }));
  return Items;
}

/** Bytes written as they are, and what comes back until the server closes the connection. */
function raw(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    // The server may close while the client still writes (headers over the limit): a reset after the
    // answer has arrived is no failure.
    socket.on('close', () => (text === '' ? reject(new Error('closed without an answer')) : resolve(text)));
    socket.on('error', () => undefined);
    socket.end(bytes);
  });
}

describe('the local runner refuses a body that is not declared JSON', () => {
  const inventory = JSON.stringify(N0);

  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['no content type', {}],
  ])('answers 415 to a PUT as %s, and changes nothing', async (_, type) => {
    const before = await everything();
    const answer = await send('PUT', '/nodes/edge-n0', { host: host(), ...type }, inventory);
    expect(answer.status).toBe(415);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(json(answer).error).toBe('UnsupportedMediaType');
    expect(json(answer).message).toContain('application/json');
    expect(await everything()).toEqual(before);
  });

  it('answers 415 to a text/plain claim and to a text/plain status message of the local queue', async () => {
    const put = await send('PUT', '/nodes/edge-n1', { host: host(), 'content-type': 'application/json' }, inventory);
    expect(put.status).toBe(201);
    const before = await everything();
    const claim = JSON.stringify({ instanceUuid: '6f1d1a8e-1c2b-4c55-9c1e-00000000e415', flavor: F1 });
    const refused = await send(
      'POST',
      '/nodes/edge-n1/instances',
      { host: host(), 'content-type': 'text/plain' },
      claim,
    );
    expect([refused.status, json(refused).error]).toEqual([415, 'UnsupportedMediaType']);
    const message = JSON.stringify({ migrationId: 'edge-m1', status: 'finished', sequence: 1 });
    const queued = await send('POST', MIGRATION_STATUS_PATH, { host: host(), 'content-type': 'text/plain' }, message);
    expect([queued.status, json(queued).error]).toEqual([415, 'UnsupportedMediaType']);
    expect(queue.stats().messages).toBe(0);
    // Even empty, a POST naming another type is refused: a cross-site page may send that without asking.
    const empty = await send('POST', '/nodes/edge-n1/audit', { host: host(), 'content-type': 'text/plain' });
    expect(empty.status).toBe(415);
    expect(await everything()).toEqual(before);
  });

  it('takes application/json with parameters, in any case', async () => {
    const type = { host: host(), 'content-type': 'Application/JSON; charset=utf-8' };
    expect((await send('PUT', '/nodes/edge-n2', type, inventory)).status).toBe(201);
    // A request without a body needs no content type.
    expect((await send('DELETE', '/nodes/edge-n2', { host: host() })).status).toBe(204);
  });
});

describe('the local runner answers only to its own names', () => {
  it.each(['localhost', `localhost:${1}`, '127.0.0.1', '[::1]:8080', 'LOCALHOST:3000'])(
    'takes Host %s',
    async (name) => {
      expect((await send('GET', '/nodes', { host: name })).status).toBe(200);
    },
  );

  it.each(['evil.example', 'evil.example:3000', '127.0.0.1.nip.io', '192.168.1.5'])(
    'answers 421 to Host %s, for reads and writes alike, and changes nothing',
    async (name) => {
      const before = await everything();
      const read = await send('GET', '/nodes', { host: name });
      expect([read.status, json(read).error]).toEqual([421, 'MisdirectedRequest']);
      const page = await send('GET', '/', { host: name });
      expect(page.status).toBe(421);
      const body = JSON.stringify(N0);
      const write = await send('PUT', '/nodes/edge-rebound', { host: name, 'content-type': 'application/json' }, body);
      expect(write.status).toBe(421);
      expect(await everything()).toEqual(before);
    },
  );
});

describe('HEAD and what Node cannot parse', () => {
  it('answers HEAD on a GET route like GET, without the body', async () => {
    const get = await send('GET', '/nodes', { host: host() });
    const head = await send('HEAD', '/nodes', { host: host() });
    expect([head.status, head.text]).toEqual([200, '']);
    expect(head.headers['content-type']).toBe(get.headers['content-type']);
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.text)));
    const missing = await send('HEAD', '/nodes/edge-nowhere', { host: host() });
    expect([missing.status, missing.text]).toEqual([404, '']);
    const page = await send('HEAD', '/', { host: host() });
    expect([page.status, page.text, page.headers['content-type']]).toEqual([200, '', 'text/html; charset=utf-8']);
    // A route without GET still refuses HEAD, and says what it takes.
    const audit = await send('HEAD', '/nodes/edge-n1/audit', { host: host() });
    expect([audit.status, audit.headers.allow]).toEqual([405, 'POST']);
    expect((await send('POST', '/nodes', { host: host() })).headers.allow).toBe('GET, HEAD');
  });

  it('answers a malformed request line with 400 in the JSON error shape', async () => {
    const answer = await raw('NOT HTTP AT ALL\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toContain('content-type: application/json');
    expect(JSON.parse(answer.split('\r\n\r\n')[1] ?? '')).toMatchObject({ error: 'BadRequest' });
  });

  it('answers headers over the limit with 431 in the JSON error shape', async () => {
    const answer = await raw(`GET /nodes HTTP/1.1\r\nhost: ${host()}\r\nx-pad: ${'x'.repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(answer.split('\r\n\r\n')[1] ?? '')).toMatchObject({ error: 'HeadersTooLarge' });
  });

  it('answers an HTTP/1.1 request without Host with 400 in the JSON error shape', async () => {
    const answer = await raw('GET /nodes HTTP/1.1\r\nconnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.split('\r\n\r\n')[1] ?? '')).toMatchObject({ error: 'BadRequest' });
  });
});

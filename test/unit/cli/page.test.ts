// `capacity-tracker page` in this process, between real listeners: the configured endpoint (which records
// what reaches it, signed) and a bystander. Only the API's reads go on, and only to the endpoint's origin;
// nothing else is forwarded, so no signature or session token reaches anyone else.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { servePage } from '../../../cli/page';
import type { Io } from '../../../cli/commands';
import { createApiClient } from '../../../lib/client/api-client';

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

async function recorder(): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"nodes": []}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

let api: Awaited<ReturnType<typeof recorder>>;
let bystander: Awaited<ReturnType<typeof recorder>>;
let pagePort = 0;
let stop: () => void;
let served: Promise<number>;
const saved = { ...process.env };

beforeAll(async () => {
  // The usual credential chain reads these first: every forwarded request is signed with them.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'AKIAPAGETEST',
    AWS_SECRET_ACCESS_KEY: 'page-test-secret',
    AWS_SESSION_TOKEN: 'page-test-session',
  });
  api = await recorder();
  bystander = await recorder();
  // A stage path as well, as an API's URL may have one.
  const client = createApiClient({ endpoint: `http://127.0.0.1:${api.port}/stage/`, sign: true, region: 'eu-west-1' });
  const lines: string[] = [];
  const io: Io = {
    out: (t) => void lines.push(t),
    err: (t) => void lines.push(t),
    readStdin: async () => '',
    style: { color: false },
  };
  const until = new Promise<void>((resolve) => (stop = resolve));
  served = servePage({ api: client, io, port: 0, until });
  for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  pagePort = Number(/127\.0\.0\.1:(\d+)/.exec(lines[0] ?? '')?.[1]);
});

afterAll(async () => {
  stop();
  await served;
  api.server.close();
  bystander.server.close();
  process.env = saved;
});

beforeEach(() => {
  api.seen.length = 0;
  bystander.seen.length = 0;
});

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: pagePort, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('capacity-tracker page', () => {
  it.each([
    '/nodes',
    '/nodes?limit=5',
    '/nodes/n1',
    '/nodes/n%201/instances',
    '/nodes/n1/instances/u1',
    '/migrations/m1',
  ])('passes GET %s on to the endpoint, signed', async (path) => {
    expect((await get(path)).status).toBe(200);
    expect(api.seen.map((s) => s.url)).toEqual([`/stage${path}`]);
    expect(api.seen[0]?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAPAGETEST\//);
    expect(bystander.seen).toEqual([]);
  });

  // TRAP stands for the bystander's address.
  it.each([
    '/http://TRAP/x',
    '/http:%2F%2FTRAP/x',
    '//TRAP/x',
    '/nodes/http:%2F%2FTRAP',
    '/nodes/%2e%2e',
    '/nodes/n1/..',
    '/nodes/a\\..\\..',
    '/nodes/%ff',
    '/nodes/n1/audit',
    '/_local/queues/migration-status',
    '/nodes/',
    '/elsewhere',
  ])('answers 404 to GET %s without forwarding it anywhere', async (path) => {
    const answer = await get(path.replace('TRAP', `127.0.0.1:${bystander.port}`));
    // No request at all, so no Authorization or x-amz-security-token header either.
    expect(bystander.seen.map((s) => [s.url, s.headers.authorization, s.headers['x-amz-security-token']])).toEqual([]);
    expect(api.seen).toEqual([]);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'RouteNotFound' });
  });
});

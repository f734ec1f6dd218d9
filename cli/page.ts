// `capacity-tracker page`: the capacity page on this machine, its API calls passed on to --endpoint by the
// CLI's client, which signs them. The browser then needs no AWS credentials for an IAM-authorized API.
// Only reads pass: anything the browser sends here is done with the operator's credentials, so a page
// of another site posting to this port must not be able to claim or release anything. And only the API's
// own reads pass, to the endpoint's origin alone: the signature and session token go nowhere else.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiClient } from '../lib/client/api-client';
import { ROUTES } from '../lib/operations';
import { matchPath } from '../lib/paths';
import { webFile } from '../scripts/web-files';
import type { Io } from './commands';

export interface PageOptions {
  api: ApiClient;
  io: Io;
  port: number;
  /** Resolves when the server should stop; SIGINT or SIGTERM by default. */
  until?: Promise<void>;
}

function send(res: ServerResponse, status: number, body: string | Buffer, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-cache' });
  res.end(body);
}

/** The API's reads, as path templates. */
const READS = ROUTES.filter((route) => route.method === 'GET').map((route) => route.path);

/**
 * A path parameter as a browser encodes it (encodeURIComponent): unreserved characters and %XX only, and
 * not a dot segment, which URL resolution (also as %2e) would turn into a step up the path.
 */
function isParameter(segment: string): boolean {
  if (!/^(?:[\w.~-]|%[0-9a-f]{2})+$/i.test(segment)) return false;
  try {
    const decoded = decodeURIComponent(segment);
    return decoded !== '.' && decoded !== '..';
  } catch {
    return false; // not UTF-8
  }
}

/** The request's path and query if the path is one of the API's reads and resolves under the endpoint, else undefined. */
function apiRead(url: string, endpoint: URL): string | undefined {
  const at = url.indexOf('?');
  const path = at < 0 ? url : url.slice(0, at);
  const segments = path.split('/');
  if (!READS.some((template) => matchPath(template, segments, isParameter))) return undefined;
  // The client resolves the path against the endpoint as this does; it must land where it says.
  const target = new URL(url.slice(1), endpoint);
  if (target.origin !== endpoint.origin || target.pathname !== `${endpoint.pathname}${path.slice(1)}`) return undefined;
  return url;
}

async function handle(req: IncomingMessage, res: ServerResponse, api: ApiClient, port: number): Promise<void> {
  // A name other than this machine's would be a DNS rebinding attempt to borrow the credentials.
  const host = (req.headers.host ?? '').toLowerCase();
  if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
    return send(res, 421, JSON.stringify({ error: 'MisdirectedRequest', message: `Use http://127.0.0.1:${port}/.` }));
  }
  const url = req.url ?? '/';
  const path = url.split('?')[0] ?? '/';
  if (req.method !== 'GET') {
    return send(
      res,
      405,
      JSON.stringify({
        error: 'MethodNotAllowed',
        message: 'This page server only reads; use the CLI to change the ledger.',
      }),
    );
  }
  const file = await webFile(path);
  if (file) return send(res, 200, file.body, file.contentType);
  const read = apiRead(url, api.endpoint);
  if (read === undefined) {
    const message = `No page file or API read at ${path}; only the API's GET routes are passed on.`;
    return send(res, 404, JSON.stringify({ error: 'RouteNotFound', message }));
  }
  const answer = await api.request('GET', read);
  send(res, answer.status, answer.body === undefined ? '' : JSON.stringify(answer.body));
}

export async function servePage({ api, io, port, until }: PageOptions): Promise<number> {
  const server = createServer((req, res) => {
    handle(req, res, api, port).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      send(
        res,
        502,
        JSON.stringify({ error: 'BadGateway', message: `The API did not answer: ${(error as Error).message}` }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  // With port 0 the system picks one; the Host check needs the real one.
  port = (server.address() as AddressInfo).port;
  io.out(`Capacity page on http://127.0.0.1:${port}/ for ${api.endpoint.href}; Ctrl-C stops it.`);
  await (until ??
    new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    }));
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  return 0;
}

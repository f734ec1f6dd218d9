// Serves the Lambda handlers of the route table (local/routes.ts) over plain HTTP, each request turned into the event
// API Gateway HTTP API (payload format 2.0) would send, so that the handlers run here as they run in AWS.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { answerClientError, checkContentType, checkHost, HttpFailure, hostNames } from './edge';
import { httpEvent, lambdaContext, type Identity } from './events';
import { matchPath } from '../lib/paths';
import { ROUTES, type Route } from './routes';

export { HttpFailure };

export const MAX_BODY_BYTES = 1024 * 1024;

export interface LocalServerOptions {
  port: number;
  /** The address to bind, 127.0.0.1 by default; the Host names answered follow from it (local/edge.ts). */
  host?: string;
  /** Local-only endpoints under `prefix` (e.g. the queue simulation), served before and apart from ROUTES. */
  localRoutes?: { prefix: string; handle(request: LocalRequest): Promise<APIGatewayProxyStructuredResultV2> };
  /** Plain files answered to GET ahead of the API's routes (the capacity page, the OpenAPI document). */
  staticFiles?: (path: string) => Promise<{ body: Buffer; contentType: string } | undefined>;
}

export interface LocalServer {
  /** Resolves once the server accepts connections; `url` carries the actual port (useful with port 0). */
  listen(): Promise<{ url: string }>;
  close(): Promise<void>;
}

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

function sendJson(res: ServerResponse, statusCode: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(statusCode, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function safeDecode(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    throw new HttpFailure(400, 'BadRequest', `The path ${rawPath} is not valid percent-encoding.`);
  }
}

function findRoute(method: string, path: string): { route: Route; params: Record<string, string> } {
  const segments = path.split('/');
  const matches = ROUTES.flatMap((route) => {
    const params = matchPath(route.path, segments);
    return params ? [{ route, params }] : [];
  });
  const found = matches.find((m) => m.route.method === method);
  if (found) return found;
  if (matches.length === 0) throw new HttpFailure(404, 'RouteNotFound', `No route for ${method} ${path}.`);
  const methods = matches.map((m) => m.route.method);
  const allow = (methods.includes('GET') ? [...methods, 'HEAD'] : methods).join(', ');
  throw new HttpFailure(405, 'MethodNotAllowed', `${method} is not allowed on ${path}; use ${allow}.`, { allow });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const tooLarge = () =>
    new HttpFailure(413, 'PayloadTooLarge', `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** One HTTP request as the local server (or a test) sees it, before it becomes an API Gateway event. */
export interface LocalRequest {
  method: string;
  /** The path with its query string, as on the request line (percent-encoded). */
  url: string;
  /** Header values, lower-case names; repeated headers already joined by commas. */
  headers?: Record<string, string>;
  body?: Buffer;
  sourceIp?: string;
  protocol?: string;
  /** Tests only: the IAM caller the event carries (the server itself never sets it). */
  identity?: Identity;
}

/** A handler's answer as API Gateway reads it: a result without statusCode is a JSON body with 200. */
function structured(result: unknown): APIGatewayProxyStructuredResultV2 {
  if (typeof result === 'object' && result !== null && 'statusCode' in result)
    return result as APIGatewayProxyStructuredResultV2;
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: typeof result === 'string' ? result : JSON.stringify(result),
  };
}

/**
 * Routes one request to its Lambda handler with the event API Gateway would send, and returns the
 * handler's answer. Unknown routes and bad paths throw an HttpFailure with the status to answer.
 */
export async function invoke(request: LocalRequest): Promise<APIGatewayProxyStructuredResultV2> {
  const [rawPath = '/', rawQueryString = ''] = request.url.split(/\?(.*)/s);
  // HTTP API hands the handlers the path percent-decoded (an encoded slash splits segments there too).
  const path = safeDecode(rawPath);
  const { route, params } = findRoute(request.method, path);
  const event = httpEvent({
    method: route.method,
    route: route.path,
    path,
    rawQueryString,
    pathParameters: params,
    headers: request.headers,
    body: request.body,
    sourceIp: request.sourceIp,
    protocol: request.protocol,
    identity: request.identity,
  });
  // Loaded on first use, as Lambda loads each function's bundle.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { handler } = require(`../functions/${route.entry}`) as { handler: Handler };
  return structured(await handler(event, lambdaContext(route.entry)));
}

/** The answer to a HEAD is the GET's, headers and all, without its body (Node drops the body itself). */
function sendFile(res: ServerResponse, file: { body: Buffer; contentType: string }): void {
  res.writeHead(200, {
    'content-type': file.contentType,
    'content-length': file.body.length,
    'cache-control': 'no-cache',
  });
  res.end(file.body);
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  options: LocalServerOptions,
  names: ReturnType<typeof hostNames>,
): Promise<void> {
  const local = options.localRoutes;
  checkHost(req.headers.host, names);
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(req.headersDistinct))
    if (values) headers[name] = values.join(name === 'cookie' ? '; ' : ',');
  headers['x-forwarded-port'] ??= String(req.socket.localPort ?? '');
  // Route first, so that an unknown route is answered without reading its body.
  const url = req.url ?? '/';
  const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
  const path = safeDecode(url.split('?')[0] ?? '/');
  const isLocal = local !== undefined && path.startsWith(local.prefix);
  if (!isLocal && method === 'GET' && options.staticFiles) {
    const file = await options.staticFiles(path);
    if (file) return sendFile(res, file);
  }
  if (!isLocal) findRoute(method, path);
  checkContentType(method, headers);
  const request: LocalRequest = {
    method,
    url,
    headers,
    body: await readBody(req),
    sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
    protocol: `HTTP/${req.httpVersion}`,
  };
  const result = isLocal ? await local.handle(request) : await invoke(request);
  const body =
    result.body === undefined ? undefined : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  res.statusCode = result.statusCode ?? 200;
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, String(value));
  if (result.cookies?.length) res.setHeader('set-cookie', result.cookies);
  // Declared, so that a HEAD says what its GET would carry; a 204 or 304 declares none.
  if (body !== undefined && res.statusCode !== 204 && res.statusCode !== 304)
    res.setHeader('content-length', body.length);
  res.end(body);
}

export function createLocalServer(options: LocalServerOptions): LocalServer {
  const host = options.host ?? '127.0.0.1';
  const names = hostNames(host);
  // Without a Host header, Node's own 400 would have no body: the edge answers it (checkHost).
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    serve(req, res, options, names).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (error instanceof HttpFailure) {
        // After an oversized or refused body, the rest of it is not read: close the connection instead.
        const headers = error.statusCode === 413 ? { ...error.headers, connection: 'close' } : error.headers;
        return sendJson(res, error.statusCode, { error: error.code, message: error.message }, headers);
      }
      console.error(`${req.method} ${req.url} failed:`, error);
      sendJson(res, 500, { error: 'InternalError', message: 'The handler failed unexpectedly; see the server log.' });
    });
  });
  server.on('clientError', answerClientError);
  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, host, () => {
          server.off('error', reject);
          const { port } = server.address() as AddressInfo;
          resolve({ url: `http://${host.includes(':') ? `[${host}]` : host}:${port}` });
        });
      }),
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

// What the local runner checks before a request reaches a handler. In AWS, API Gateway is the edge (and IAM
// authorizes every call); here the runner is open, so it refuses what a web page of another site or a DNS
// rebinding attempt could make a browser send it: a body that is not declared JSON (a cross-site "simple"
// POST may carry text/plain, a form's type or none, but not application/json without a preflight the runner
// never grants), and a Host header that does not name this machine.
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export class HttpFailure extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);

/** The host part of a Host header or a bind address, lower-case, an IPv6 address in brackets. */
export function hostName(value: string): string {
  const host = value.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  // A bare IPv6 address (a bind address such as ::1) has colons and no port.
  if (host.split(':').length > 2) return `[${host}]`;
  return host.split(':')[0] ?? '';
}

/**
 * The Host names the runner answers to when it binds `bindHost`: the loopback names, and the bind address
 * itself if it is another (HOST=192.168.1.5 is reached by that name). Bound to every interface, it cannot
 * know its names and takes any (start.ts says so).
 */
export function hostNames(bindHost: string): ReadonlySet<string> | 'any' {
  const bound = hostName(bindHost);
  if (WILDCARD.has(bound)) return 'any';
  return new Set([...LOOPBACK, bound]);
}

export function checkHost(header: string | undefined, names: ReadonlySet<string> | 'any'): void {
  if (names === 'any') return;
  if (header === undefined || header.trim() === '')
    throw new HttpFailure(400, 'BadRequest', 'The request has no Host header.');
  if (!names.has(hostName(header))) {
    const known = [...names].join(', ');
    throw new HttpFailure(421, 'MisdirectedRequest', `This runner answers to ${known}, not to ${header}.`);
  }
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * A request that carries a body, or a POST, PUT or PATCH that names a content type, must name
 * application/json (parameters such as charset allowed); the body is then left unread, so the
 * connection closes after the answer.
 */
export function checkContentType(method: string, headers: Record<string, string>): void {
  const type = headers['content-type'];
  const hasBody = Number(headers['content-length'] ?? 0) > 0 || headers['transfer-encoding'] !== undefined;
  if (!hasBody && !(BODY_METHODS.has(method) && type !== undefined)) return;
  const mediaType = (type ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType === 'application/json') return;
  throw new HttpFailure(
    415,
    'UnsupportedMediaType',
    type === undefined
      ? 'The request body needs content-type: application/json.'
      : `The request body is ${type}; send it as content-type: application/json.`,
    { connection: 'close' },
  );
}

/**
 * Node's answer to a request it cannot parse (a malformed request line, headers over its limit), in the
 * runner's JSON error shape. No request object exists then: the answer is written to the socket.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) return void socket.destroy();
  const [status, code, message]: [number, string, string] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HeadersTooLarge', `The request headers are larger than the ${maxHeaderSize} bytes the runner accepts.`]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'RequestTimeout', 'The request did not arrive in time.']
        : [400, 'BadRequest', `The request is not valid HTTP (${error.code ?? error.message}).`];
  const body = JSON.stringify({ error: code, message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

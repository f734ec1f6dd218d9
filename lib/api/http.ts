import type { Metrics } from '@aws-lambda-powertools/metrics';
import type middy from '@middy/core';
import type {
  APIGatewayEventRequestContextIAMAuthorizer,
  APIGatewayEventRequestContextV2WithAuthorizer,
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import * as z from 'zod/mini';
import './zod';
import { AppError, Forbidden, InsufficientResources, Unavailable, ValidationError, type Issue } from '../errors';
import type { HttpOperationId, Operation } from '../operations';
import { HTTP_STATUS, INTERNAL_ERROR } from './error-status';
import { duplicateKey } from './json-keys';
import { logger } from './logger';
import { count, operationMetrics } from './metrics';
import { observed, publishStored } from './observed';
import {
  bodyDecision,
  callerOfArn,
  decide,
  isOpen,
  migrationDecision,
  ROUTE_ACCESS,
  type Caller,
  type Decision,
} from './roles';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

const MAX_BODY_BYTES = 64 * 1024;
const JSON_HEADERS = { 'content-type': 'application/json' };

export function json(statusCode: number, body?: unknown, headers: Record<string, string> = {}): HttpResult {
  if (body === undefined) return { statusCode, headers };
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

function issuesOf(error: z.core.$ZodError, prefix: string): Issue[] {
  return error.issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter(Boolean).join('.'),
    message: i.message,
  }));
}

function reject(where: string, issues: Issue[]): never {
  const first = issues[0];
  throw new ValidationError(
    // A path parameter's issue has the parameter as its path: say its name once.
    first
      ? `Invalid ${where}: ${first.path && first.path !== where ? `${first.path}: ` : ''}${first.message}.`
      : `Invalid ${where}.`,
    issues,
  );
}

/** Validates one value (a path parameter, the query) and answers 400 with the issues if it does not fit. */
export function parse<S extends z.core.$ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = z.safeParse(schema, value);
  if (!result.success) reject(where, issuesOf(result.error, where === 'body' ? '' : where));
  return result.data;
}

/** A JSON text (a body, a queue message) as its value: 400 if it is not JSON or an object in it repeats a key. */
export function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    reject('body', [{ path: '', message: 'not valid JSON' }]);
  }
  const repeated = duplicateKey(text);
  if (repeated) reject('body', [{ path: repeated.join('.'), message: 'duplicate key' }]);
  return value;
}

/**
 * The JSON body, validated, and allowed for its caller (rule W3). An absent body is an empty object, so bodies of
 * all-optional fields may be left out.
 */
export function parseBody<S extends z.core.$ZodType>(schema: S, event: HttpEvent): z.output<S> {
  let text = event.body ?? '';
  if (event.isBase64Encoded) text = Buffer.from(text, 'base64').toString('utf8');
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    reject('body', [{ path: '', message: `larger than ${MAX_BODY_BYTES} bytes` }]);
  }
  const value = text.trim() === '' ? {} : parseJson(text);
  const body = parse(schema, value, 'body');
  // The raw value: the schema fills in defaults (`limits: {}`) the caller never sent.
  const caller = callers.get(event);
  if (caller) enforce(bodyDecision(caller, value));
  return body;
}

/** Each request's caller, once httpHandler has let it in; the pending check of a migration route's agent. */
const callers = new WeakMap<HttpEvent, Caller>();
const migrationChecks = new WeakMap<HttpEvent, string>();

function enforce(decision: Decision): void {
  if (decision.kind === 'deny') throw new Forbidden(decision.reason);
}

type IamContext = Partial<APIGatewayEventRequestContextV2WithAuthorizer<APIGatewayEventRequestContextIAMAuthorizer>>;

/** Anyone when the service runs open (rule W5); otherwise one of the stack's roles, from the IAM identity, or 403. */
function callerOf(event: HttpEvent): Caller {
  if (isOpen()) return { role: 'open' };
  const userArn = (event.requestContext as IamContext).authorizer?.iam?.userArn;
  const caller = callerOfArn(userArn);
  if (!caller)
    throw new Forbidden(
      `The caller ${userArn ?? '(no IAM identity)'} has none of the roles agent, scheduler or operator of this service.`,
    );
  return caller;
}

/** Refuses a request its caller may not make on the route and its path's node (rules W1-W4); nothing has run yet. */
function authorize(event: HttpEvent, route: HttpOperationId): void {
  const caller = callerOf(event);
  const decision = decide(caller, route, event.pathParameters?.nodeId);
  enforce(decision);
  callers.set(event, caller);
  if (decision.kind === 'if-migration-on') migrationChecks.set(event, decision.nodeId);
}

/**
 * On a route an agent may use only for migrations of its own node (rule W2): loads the migration for an agent and
 * refuses it when the migration neither leaves nor reaches its node. Other callers pass without a read.
 */
export async function authorizeMigration(
  event: HttpEvent,
  load: () => Promise<{ sourceNodeId: string; destNodeId: string }>,
): Promise<void> {
  const nodeId = migrationChecks.get(event);
  if (nodeId !== undefined) enforce(migrationDecision(nodeId, await load()));
}

/**
 * Refuses query parameters the route does not take: a write that ignored one would do what the caller
 * did not ask for (`?dryRun=true` would still claim), and a read would answer as if it had been heeded.
 */
function checkQuery(event: HttpEvent, takes: readonly string[]): void {
  const unknown = Object.keys(event.queryStringParameters ?? {}).filter((name) => !takes.includes(name));
  const what = takes.length > 0 ? `this route takes ${takes.join(', ')}` : 'this route takes none';
  if (unknown.length > 0)
    reject(
      'query',
      unknown.map((name) => ({ path: name, message: `unknown parameter (${what})` })),
    );
}

/** A path parameter as API Gateway passes it: already percent-decoded, so it is not decoded again. */
export function pathParam(event: HttpEvent, name: string): string {
  return event.pathParameters?.[name] ?? '';
}

/** True when the client asked for a lean answer (RFC 7240 `Prefer: return=minimal`). */
export function prefersMinimal(event: HttpEvent): boolean {
  const prefer = event.headers?.prefer ?? event.headers?.Prefer ?? '';
  return /(^|[,;\s])return=minimal\b/i.test(prefer);
}

/** The contract's answer to a failure: a known one with its code's status, the rest as 500 InternalError. */
export function errorResult(error: unknown): HttpResult {
  if (error instanceof AppError) {
    const status = HTTP_STATUS[error.code];
    const headers: Record<string, string> =
      error instanceof Unavailable ? { 'retry-after': String(error.retryAfterSeconds) } : {};
    if (status >= 500) logger.warn('request failed', { error: error.code });
    return json(status, { error: error.code, message: error.message, ...error.details }, headers);
  }
  logger.error('unexpected failure', error as Error);
  return json(INTERNAL_ERROR.status, { error: INTERNAL_ERROR.code, message: INTERNAL_ERROR.message });
}

/** Turns every failure into the contract's error shape. */
function errorResponses(): middy.MiddlewareObj<HttpEvent, HttpResult> {
  return {
    onError: async (request) => {
      request.response = errorResult(request.error);
    },
  };
}

/**
 * Per request: the ids in the path as log keys; on the way out one log line and the operation's metrics
 * (requests, refusals, client and server errors).
 */
function requestContext(operation: string, perOperation: Metrics): middy.MiddlewareObj<HttpEvent, HttpResult> {
  // Keyed by event: the local runner and the tests run many requests through one handler at once.
  const started = new WeakMap<HttpEvent, number>();
  const done = (request: middy.Request<HttpEvent, HttpResult>): void => {
    const status = request.response?.statusCode ?? 500;
    count('Requests', 1, perOperation);
    if (status >= 500) count('ServerErrors', 1, perOperation);
    else if (status >= 400) count('ClientErrors', 1, perOperation);
    if (request.error instanceof InsufficientResources) count('Refusals', 1, perOperation);
    const ms = Math.round(performance.now() - (started.get(request.event) ?? performance.now()));
    logger.info('request', { status, ms });
  };
  return {
    before: async (request) => {
      started.set(request.event, performance.now());
      const { nodeId, instanceUuid, migrationId } = request.event.pathParameters ?? {};
      logger.appendKeys({ operation, nodeId, instanceUuid, migrationId });
    },
    after: done,
    // errorResponses has turned the failure into a response by now (middy runs onError hooks in reverse).
    onError: done,
  };
}

type Handler = (event: HttpEvent, context: Context) => Promise<HttpResult>;
/** A handler and the query it takes, already checked against its schema (`{}` for a route that takes none). */
type QueryHandler<Q> = (event: HttpEvent, context: Context, query: Q) => Promise<HttpResult>;

/**
 * The middleware stack every HTTP handler shares. The operation's entry in lib/operations.ts names the
 * handler in logs and metrics; `query` is the schema of the query parameters it takes (none without it),
 * parsed here once and handed to the handler.
 * middy runs `after` hooks in reverse order, so errorResponses (last) shapes a failure before
 * requestContext counts it and publishStored publishes it.
 */
export function httpHandler<S extends z.ZodMiniObject>(
  { name }: Pick<Operation, 'name'>,
  handler: QueryHandler<z.output<S>>,
  options: { query?: S } = {},
) {
  const perOperation = operationMetrics(name);
  // A route's id is its name, lower-cased first (a test checks): looking it up in lib/operations.ts would put the
  // whole table in every bundle, the placement handlers' too (see lib/operations-placement.ts).
  const id = `${name.charAt(0).toLowerCase()}${name.slice(1)}`;
  if (!(id in ROUTE_ACCESS)) throw new Error(`no HTTP route named ${name} in lib/operations.ts`);
  const route = { id: id as HttpOperationId };
  const { query: schema } = options;
  const takes = Object.keys(schema?.shape ?? {});
  const checked: Handler = async (event, context) => {
    authorize(event, route.id);
    checkQuery(event, takes);
    const query = schema ? parse(schema, event.queryStringParameters ?? {}, 'query') : {};
    return handler(event, context, query as z.output<S>);
  };
  return observed<HttpEvent, HttpResult>(checked)
    .use(publishStored(perOperation))
    .use(requestContext(name, perOperation))
    .use(errorResponses());
}

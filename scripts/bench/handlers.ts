// Lambda invocations as API Gateway (HTTP API, payload 2.0) makes them, the events built by local/events.ts.
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { handler as statusHandler } from '../../functions/update-migration-status';
import type { HttpEvent, HttpResult } from '../../lib/api/http';
import { httpEvent as apiEvent, lambdaContext } from '../../local/events';
import { routeOf } from '../../local/routes';
import { FLAVOR, NEW_FLAVOR } from './settings';

export { handler as auditHandler } from '../../functions/audit-node';
export { handler as claimHandler } from '../../functions/claim-instance';
export { handler as moveClaimHandler } from '../../functions/claim-move';
export { handler as getNodeHandler } from '../../functions/get-node';
export { handler as putNodeHandler } from '../../functions/put-node';
export { handler as releaseHandler } from '../../functions/release-instance';
export { handler as updateHandler } from '../../functions/update-instance';

const SOURCE_IP = '10.0.3.17';

/** The event of a request from Nova's scheduler on `path` (a route's template) with `params` filled in. */
export function httpEvent(
  method: string,
  path: string,
  params: Record<string, string>,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): HttpEvent {
  const route = routeOf(method, path);
  const text = body === undefined ? undefined : JSON.stringify(body);
  const now = Math.floor(Date.now() / 1000).toString(16);
  const headers: Record<string, string> = {
    accept: 'application/json',
    'accept-encoding': 'gzip, deflate',
    host: 'abc123defg.execute-api.us-east-1.amazonaws.com',
    'user-agent': 'nova-scheduler/bench',
    'x-amzn-trace-id': `Root=1-${now}-${randomUUID().replace(/-/g, '').slice(0, 24)}`,
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
    ...(text === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }),
    ...extraHeaders,
  };
  const rawPath = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
  return apiEvent({ method, route: route.path, path: rawPath, pathParameters: params, headers, body: text, sourceIp: SOURCE_IP });
}

type Handler = (event: HttpEvent, context: Context) => Promise<HttpResult>;

export async function invoke(handler: Handler, name: string, event: HttpEvent): Promise<number> {
  const result = await handler(event, lambdaContext(name));
  return result.statusCode ?? 0;
}

/** An invocation whose answer is read: the status and the JSON body ({} when there is none). */
export async function call<T>(handler: Handler, name: string, event: HttpEvent): Promise<{ status: number; body: Partial<T> }> {
  const result = await handler(event, lambdaContext(name));
  return { status: result.statusCode ?? 0, body: JSON.parse(result.body ?? '{}') as Partial<T> };
}

/** A claim of FLAVOR; `extra` adds to the body (PCI requests). */
export function claimEvent(nodeId: string, instanceUuid: string, minimal: boolean, extra: object = {}): HttpEvent {
  const body = { instanceUuid, flavor: FLAVOR, vmState: 'active', ...extra };
  return httpEvent('POST', '/nodes/{nodeId}/instances', { nodeId }, body, minimal ? { prefer: 'return=minimal' } : {});
}

export const instanceEvent = (method: 'PATCH' | 'DELETE', nodeId: string, instanceUuid: string, body?: unknown) =>
  httpEvent(method, '/nodes/{nodeId}/instances/{instanceUuid}', { nodeId, instanceUuid }, body);

/** Nova's resize_claim on the destination, answering only the status (`Prefer: return=minimal`). */
export function moveClaimEvent(destNodeId: string, sourceNodeId: string, instanceUuid: string, migrationId: string): HttpEvent {
  const body = { migrationId, instanceUuid, moveType: 'resize', sourceNodeId, newFlavor: NEW_FLAVOR };
  return httpEvent('POST', '/nodes/{nodeId}/move-claims', { nodeId: destNodeId }, body, { prefer: 'return=minimal' });
}

/** A migration status through its handler; `200 ignored` when it answered 200 without applying the status. */
export async function changeStatus(migrationId: string, status: string): Promise<number | string> {
  const event = httpEvent('POST', '/migrations/{migrationId}/status', { migrationId }, { status });
  const result = await statusHandler(event, lambdaContext('update-migration-status'));
  const code = result.statusCode ?? 0;
  if (code !== 200) return code;
  return (JSON.parse(result.body ?? '{}') as { applied?: boolean }).applied ? 200 : '200 ignored';
}

// Calls the Lambda handlers in-process with API Gateway HTTP API (payload 2.0) events.
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { ROUTES } from '../../functions/routes';

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function match(method: string, path: string) {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const names: string[] = [];
    const pattern = new RegExp(
      `^${route.path.replace(/\{(\w+)\}/g, (_, name: string) => (names.push(name), '([^/]+)'))}$`,
    );
    const m = pattern.exec(path);
    if (m) return { route, params: Object.fromEntries(names.map((n, i) => [n, m[i + 1] ?? ''])) };
  }
  throw new Error(`no route for ${method} ${path}`);
}

export async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const { route, params } = match(method, path);
  const { handler } = require(`../../functions/${route.entry}`);
  const event = {
    version: '2.0',
    routeKey: `${route.method} ${route.path}`,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...headers },
    pathParameters: params,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { requestId: randomUUID(), http: { method, path } },
  } as unknown as APIGatewayProxyEventV2;
  const context = { awsRequestId: randomUUID(), functionName: route.entry, getRemainingTimeInMillis: () => 30_000 } as unknown as Context;
  const result = await handler(event, context);
  return { status: result.statusCode, headers: result.headers ?? {}, body: result.body ? JSON.parse(result.body) : undefined };
}

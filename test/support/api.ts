// Calls the Lambda handlers in-process, through the local server's router, with API Gateway HTTP API events.
import type { Identity } from '../../local/events';
import { HttpFailure, invoke } from '../../local/server';

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function api(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  /** The IAM caller; none by default, which the tests' open mode (AUTH=open) lets in. */
  identity?: Identity,
): Promise<Reply> {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  try {
    const result = await invoke({
      method,
      url: path,
      headers: { 'content-type': 'application/json', ...headers },
      body: text === undefined ? undefined : Buffer.from(text),
      identity,
    });
    const replyHeaders = Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k, String(v)]));
    return {
      status: result.statusCode ?? 200,
      headers: replyHeaders,
      body: result.body ? JSON.parse(result.body) : undefined,
    };
  } catch (error) {
    if (!(error instanceof HttpFailure)) throw error;
    return { status: error.statusCode, headers: error.headers, body: { error: error.code, message: error.message } };
  }
}

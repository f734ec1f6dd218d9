// X-Ray's wire format as Lambda's active tracing takes it (rule OP2): subsegment documents sent
// one by one over UDP to the daemon address Lambda gives, under the invocation's facade segment from _X_AMZN_TRACE_ID.
// About 3 KB instead of aws-xray-sdk-core's ~96 KB, most of which (sampling rules, plugins for EC2 and ECS, context
// through cls-hooked, patchers for http and SQL clients) a Lambda function never runs.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

/** The invocation's trace: its root, the facade segment Lambda made for it, and whether it is sampled. */
export interface TraceHeader {
  root: string;
  parent: string;
  sampled: boolean;
}

/** `Root=1-...;Parent=...;Sampled=1[;Lineage=...]`, as Lambda sets _X_AMZN_TRACE_ID for each invocation. */
export function parseTraceHeader(text: string | undefined): TraceHeader | undefined {
  const fields = new Map(
    (text ?? '').split(';').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const root = fields.get('Root');
  const parent = fields.get('Parent');
  if (!root || !parent) return undefined;
  return { root, parent, sampled: fields.get('Sampled') === '1' };
}

/** The daemon's UDP address: `host:port`, or `tcp:host:port udp:host:port` where the two differ. */
export function daemonAddress(text: string | undefined): { host: string; port: number } | undefined {
  const parts = (text ?? '').trim().split(/\s+/);
  const udp = parts.find((p) => p.startsWith('udp:'))?.slice(4) ?? parts.find((p) => !p.startsWith('tcp:'));
  const match = /^(.+):(\d+)$/.exec(udp ?? '');
  return match ? { host: match[1]!, port: Number(match[2]) } : undefined;
}

export const newId = (): string => randomBytes(8).toString('hex');
/** X-Ray's times: seconds since the epoch, as a fraction. */
export const epochSeconds = (): number => Date.now() / 1000;

export interface ErrorCause {
  exceptions: { id: string; message: string; type: string; remote?: boolean; stack?: { path: string }[] }[];
}

/** A subsegment sent on its own: it names its trace and its parent (the facade segment or another subsegment). */
export interface Subsegment {
  type: 'subsegment';
  id: string;
  trace_id: string;
  parent_id: string;
  name: string;
  start_time: number;
  end_time?: number;
  namespace?: 'aws' | 'remote';
  annotations?: Record<string, string | number | boolean>;
  aws?: Record<string, unknown>;
  http?: { response?: { status?: number } };
  error?: boolean;
  fault?: boolean;
  throttle?: boolean;
  cause?: ErrorCause;
}

const HEADER = '{"format":"json","version":1}\n';

/** Sends documents to the daemon; fire and forget, as a lost trace must never fail a request. */
export class Emitter {
  private socket: Socket | undefined;

  constructor(private readonly address: { host: string; port: number }) {}

  send(document: Subsegment): void {
    if (!this.socket) {
      this.socket = createSocket('udp4');
      // The socket must not keep a process alive (the local runner, the tests).
      this.socket.unref();
    }
    const message = Buffer.from(HEADER + JSON.stringify(document));
    this.socket.send(message, this.address.port, this.address.host, () => undefined);
  }
}

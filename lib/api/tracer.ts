// The X-Ray traces of a Lambda container (rule OP2): each invocation's handler as a subsegment
// of the facade segment Lambda's active tracing makes, annotated ColdStart and Service, and each DynamoDB request as
// a subsegment of it, with its operation, table, status and retries. Active only inside Lambda with X-Ray on;
// elsewhere (tests, local runner, bench) it does nothing unless a test points it at a daemon of its own.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AsyncLocalStorage } from 'node:async_hooks';
import { SERVICE_NAME } from './service';
import {
  daemonAddress,
  Emitter,
  epochSeconds,
  newId,
  parseTraceHeader,
  type ErrorCause,
  type Subsegment,
} from './xray';

const THROTTLES = new Set(['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded']);

function causeOf(error: unknown, remote: boolean): ErrorCause {
  const e = error instanceof Error ? error : new Error(String(error));
  return { exceptions: [{ id: newId(), message: e.message, type: e.name, ...(remote ? { remote } : {}) }] };
}

interface SdkMetadata {
  httpStatusCode?: number;
  requestId?: string;
  attempts?: number;
}

/** What a DynamoDB subsegment says of its request once it is answered or has failed. */
function describeCall(sub: Subsegment, metadata: SdkMetadata | undefined, error?: unknown): void {
  const status = metadata?.httpStatusCode;
  sub.aws = {
    ...sub.aws,
    ...(metadata?.requestId ? { request_id: metadata.requestId } : {}),
    ...(metadata?.attempts ? { retries: metadata.attempts - 1 } : {}),
  };
  if (status) sub.http = { response: { status } };
  const name = (error as Error | undefined)?.name ?? '';
  if (status === 429 || THROTTLES.has(name)) sub.throttle = true;
  if (status !== undefined && status >= 500) sub.fault = true;
  else if ((status !== undefined && status >= 400) || error !== undefined) sub.error = true;
  if (error !== undefined) sub.cause = causeOf(error, true);
}

type Runtime = { awslambda?: { InvokeStore?: { getXRayTraceId(): string | undefined } } };

/** The invocation's trace: from the runtime's per-invocation store where it has one (many invocations at once in a
 * container share one environment), else from the environment, as Powertools reads it. */
function invocationTraceHeader(): string | undefined {
  return (globalThis as Runtime).awslambda?.InvokeStore?.getXRayTraceId() ?? process.env._X_AMZN_TRACE_ID;
}

export class Tracer {
  private readonly current = new AsyncLocalStorage<Subsegment>();
  private emitter: { address: string; emitter: Emitter } | undefined;
  private coldStart = true;

  constructor(private readonly serviceName: string) {}

  /** Where documents go now; undefined outside Lambda, with tracing turned off, or without a daemon. */
  private target(): Emitter | undefined {
    const env = process.env;
    if (!env.AWS_LAMBDA_FUNCTION_NAME || env.POWERTOOLS_TRACE_ENABLED === 'false' || env.AWS_SAM_LOCAL === 'true')
      return undefined;
    const text = env.AWS_XRAY_DAEMON_ADDRESS ?? '';
    if (this.emitter?.address !== text) {
      const address = daemonAddress(text);
      this.emitter = address ? { address: text, emitter: new Emitter(address) } : undefined;
    }
    return this.emitter?.emitter;
  }

  /** Runs one invocation inside its handler subsegment; an error it throws marks the subsegment a fault. */
  async traced<R>(run: () => Promise<R>): Promise<R> {
    const coldStart = this.coldStart;
    this.coldStart = false;
    const emitter = this.target();
    const trace = parseTraceHeader(invocationTraceHeader());
    if (!emitter || !trace?.sampled) return run();
    const sub: Subsegment = {
      type: 'subsegment',
      id: newId(),
      trace_id: trace.root,
      parent_id: trace.parent,
      name: `## ${process.env._HANDLER ?? 'index.handler'}`,
      start_time: epochSeconds(),
      annotations: { ColdStart: coldStart, Service: this.serviceName },
    };
    try {
      return await this.current.run(sub, run);
    } catch (error) {
      sub.fault = true;
      sub.cause = causeOf(error, false);
      throw error;
    } finally {
      sub.end_time = epochSeconds();
      emitter.send(sub);
    }
  }

  /** Adds a subsegment per request to the client, and the trace header to each request, as X-Ray's SDK does. */
  captureAWSv3Client<C extends Pick<DynamoDBClient, 'middlewareStack' | 'config'>>(client: C): C {
    client.middlewareStack.remove('XRayTracing');
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const parent = this.current.getStore();
        const emitter = this.target();
        if (!parent || !emitter) return next(args);
        const input = (args.input ?? {}) as { TableName?: string };
        const sub: Subsegment = {
          type: 'subsegment',
          id: newId(),
          trace_id: parent.trace_id,
          parent_id: parent.id,
          name: (context.clientName ?? 'DynamoDBClient').replace(/Client$/, ''),
          namespace: 'aws',
          start_time: epochSeconds(),
          aws: {
            operation: (context.commandName ?? '').replace(/Command$/, ''),
            region: await client.config.region(),
            ...(input.TableName ? { table_name: input.TableName } : {}),
          },
        };
        const request = args.request as { headers?: Record<string, string> } | undefined;
        if (request?.headers) request.headers['X-Amzn-Trace-Id'] = `Root=${sub.trace_id};Parent=${sub.id};Sampled=1`;
        try {
          const result = await next(args);
          describeCall(sub, (result.output as { $metadata?: SdkMetadata }).$metadata);
          return result;
        } catch (error) {
          describeCall(sub, (error as { $metadata?: SdkMetadata }).$metadata, error);
          throw error;
        } finally {
          sub.end_time = epochSeconds();
          emitter.send(sub);
        }
      },
      { step: 'build', name: 'XRayTracing' },
    );
    return client;
  }
}

export const tracer = new Tracer(SERVICE_NAME);

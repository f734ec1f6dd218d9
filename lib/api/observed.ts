import { AsyncLocalStorage } from 'node:async_hooks';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger } from './logger';
import { metrics } from './metrics';
import { tracer } from './tracer';

/**
 * Publishes what `to` holds at the end of an invocation, if anything; Powertools' logMetrics warns on an
 * empty flush. The service's own metrics (retries, conflicts, claims, drift) are empty for most requests, and
 * with requests served at once (the local runner) another request may have published this one's already.
 */
export function publishStored(to: Metrics): middy.MiddlewareObj {
  const flush = async () => {
    if (to.hasStoredMetrics()) to.publishStoredMetrics();
  };
  return { after: flush, onError: flush };
}

/** The service's own metrics, with the cold start counted once. */
function flushMetrics(): middy.MiddlewareObj {
  return {
    before: async (request) => metrics.captureColdStartMetric(request.context?.functionName),
    ...publishStored(metrics),
  };
}

// The invocation each piece of work belongs to: one store serves every request of a container (and many
// at once in the local runner), so its DynamoDB client finds the deadline of the request it serves here.
const invocations = new AsyncLocalStorage<Context>();

/** What is left of the current invocation, in ms; undefined outside one or with a context that cannot tell. */
export function remainingMs(): number | undefined {
  const context = invocations.getStore();
  return typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined;
}

/**
 * Every Lambda entry, HTTP or not: logs carry the request id, metrics are flushed at the end of each
 * invocation (the cold start counted once), and the invocation is an X-Ray subsegment without its response
 * (node lists can be large). The handler runs inside its invocation (see remainingMs).
 */
export function observed<E, R>(handler: (event: E, context: Context) => Promise<R>) {
  const within = (event: E, context: Context) =>
    invocations.run(context, () => tracer.traced(() => handler(event, context)));
  return middy<E, R>(within)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(flushMetrics());
}

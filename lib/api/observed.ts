import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger } from './logger';
import { metrics } from './metrics';
import { tracer } from './tracer';

/**
 * Flushes the service's own metrics (retries, conflicts, claims, drift) when an invocation made any:
 * most requests make none, and Powertools' logMetrics would warn about every one of those.
 */
function flushMetrics(): middy.MiddlewareObj {
  const flush = async () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return {
    before: async (request) => metrics.captureColdStartMetric(request.context?.functionName),
    after: flush,
    onError: flush,
  };
}

/**
 * Every Lambda entry, HTTP or not: logs carry the request id, metrics are flushed at the end of each
 * invocation (the cold start counted once), and the invocation is an X-Ray segment without its response
 * (node lists can be large).
 */
export function observed<E, R>(handler: (event: E, context: Context) => Promise<R>) {
  return middy<E, R>(handler)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(flushMetrics());
}

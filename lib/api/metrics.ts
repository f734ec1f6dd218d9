import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { RetryKind } from '../store';
import { METRICS_NAMESPACE, SERVICE_NAME } from './service';

// CloudWatch metrics as EMF log lines; POWERTOOLS_METRICS_DISABLED=true keeps local runs quiet.
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

export function count(name: string, value = 1, to: Metrics = metrics): void {
  to.addMetric(name, MetricUnit.Count, value);
}

/**
 * Metrics of one HTTP operation: its own instance with the operation as a fixed dimension, so no
 * dimension is ever added or cleared per request (the local runner serves many requests at once).
 */
export function operationMetrics(operation: string): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, defaultDimensions: { operation } });
}

/** Every retry the store makes is worth seeing: conflicts say a node item is hot, throttles that the table is short. */
export function countRetry(kind: RetryKind): void {
  count('Retries');
  if (kind === 'conflict') count('Conflicts');
  if (kind === 'throttle') count('Throttles');
}

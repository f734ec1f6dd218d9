import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { httpHandler, json, parse, parseBody, pathParam } from '../lib/api/http';
import { logger } from '../lib/api/logger';
import { metrics } from '../lib/api/metrics';
import { auditSchema, nodeIdSchema } from '../lib/api/schemas';
import { nodeView } from '../lib/domain';
import { auditNode, storeFromEnv } from '../lib/store';

export const handler = httpHandler(async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const body = parseBody(auditSchema, event);
  const result = await auditNode(storeFromEnv(), nodeId, body);
  reportDrift(nodeId, result);
  const { node, drift, unknownInstances, missingInstances } = result;
  return json(200, { node: nodeView(node), drift, unknownInstances, missingInstances });
});

/** Drift is what changed from outside the service: worth a log line and a metric every time. */
export function reportDrift(nodeId: string, result: Awaited<ReturnType<typeof auditNode>>): void {
  const { drift, repaired, unknownInstances, missingInstances } = result;
  if (repaired) logger.warn('audit repaired drift', { nodeId, drift, unknownInstances, missingInstances });
  metrics.addDimension('nodeId', nodeId);
  metrics.addMetric('AuditDriftMemoryMb', MetricUnit.Count, Math.abs(drift.memoryMbUsed));
  metrics.addMetric('AuditDriftDiskGb', MetricUnit.Count, Math.abs(drift.localGbUsed));
  metrics.addMetric('AuditDriftVcpus', MetricUnit.Count, Math.abs(drift.vcpusUsed));
  metrics.addMetric('AuditRepairs', MetricUnit.Count, repaired ? 1 : 0);
  metrics.publishStoredMetrics();
}

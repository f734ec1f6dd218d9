import { httpHandler, json, parse, parseBody, pathParam } from '../lib/api/http';
import { logger } from '../lib/api/logger';
import { count, metrics } from '../lib/api/metrics';
import { auditSchema, nodeIdSchema } from '../lib/api/schemas';
import { runtime } from '../lib/api/runtime';
import { nodeView } from '../lib/domain';
import { OPERATIONS } from '../lib/operations';
import { auditNode, auditNodeAndHolds } from '../lib/store';

export const handler = httpHandler(OPERATIONS.auditNode, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const body = parseBody(auditSchema, event);
  const result = await auditNodeAndHolds(runtime().store, nodeId, body);
  reportDrift(nodeId, result);
  const { node, drift, unknownInstances, missingInstances, releasedHolds, numa } = result;
  return json(200, {
    node: nodeView(node),
    drift,
    unknownInstances,
    missingInstances,
    releasedHolds,
    ...(numa ? { numa } : {}),
  });
});

/**
 * Drift is what changed from outside the service: worth a log line and a metric every time. The node goes
 * in as metadata, not as a dimension: a dimension per node would be a custom metric per node.
 */
export function reportDrift(nodeId: string, result: Awaited<ReturnType<typeof auditNode>>): void {
  const { drift, repaired, unknownInstances, missingInstances } = result;
  if (repaired) logger.warn('audit repaired drift', { nodeId, drift, unknownInstances, missingInstances });
  metrics.addMetadata('nodeId', nodeId);
  count('AuditDriftMemoryMb', Math.abs(drift.memoryMbUsed));
  count('AuditDriftDiskGb', Math.abs(drift.localGbUsed));
  count('AuditDriftVcpus', Math.abs(drift.vcpusUsed));
  count('AuditRepairs', repaired ? 1 : 0);
}

// The periodic audit (Nova runs update_available_resource every 60 s): every node, one after another.
import { logger } from '../lib/api/logger';
import { count, metrics } from '../lib/api/metrics';
import { observed } from '../lib/api/observed';
import { runtime } from '../lib/api/runtime';
import { auditNode, listNodes } from '../lib/store';
import { reportDrift } from './audit-node';

type Round = { audited: number; repaired: string[]; failed: string[] };

export const audit = async (): Promise<Round> => {
  const store = runtime().store;
  const repaired: string[] = [];
  const failed: string[] = [];
  const nodes = await listNodes(store);
  for (const { nodeId } of nodes) {
    try {
      const result = await auditNode(store, nodeId);
      reportDrift(nodeId, result);
      // One EMF blob per node, so that each carries its node as metadata.
      metrics.publishStoredMetrics();
      if (result.repaired) repaired.push(nodeId);
    } catch (error) {
      // A node deleted meanwhile, or one too busy to audit now: the next round takes it.
      logger.warn('audit failed', { nodeId, error: (error as Error).message });
      failed.push(nodeId);
    }
  }
  count('AuditFailures', failed.length);
  return { audited: nodes.length, repaired, failed };
};

export const handler = observed<unknown, Round>(audit);

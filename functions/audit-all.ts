// The periodic audit (Nova runs update_available_resource every 60 s): every node, one after another.
import { logger } from '../lib/api/logger';
import { auditNode, listNodes, storeFromEnv } from '../lib/store';
import { reportDrift } from './audit-node';

export const handler = async (): Promise<{ audited: number; repaired: string[]; failed: string[] }> => {
  const store = storeFromEnv();
  const repaired: string[] = [];
  const failed: string[] = [];
  const nodes = await listNodes(store);
  for (const { nodeId } of nodes) {
    try {
      const result = await auditNode(store, nodeId);
      reportDrift(nodeId, result);
      if (result.repaired) repaired.push(nodeId);
    } catch (error) {
      // A node deleted meanwhile, or one too busy to audit now: the next round takes it.
      logger.warn('audit failed', { nodeId, error: (error as Error).message });
      failed.push(nodeId);
    }
  }
  return { audited: nodes.length, repaired, failed };
};

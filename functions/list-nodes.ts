import { httpHandler, json } from '../lib/api/http';
import { runtime } from '../lib/api/runtime';
import { listNodesQuerySchema, pageToken, type ListNodesQuery } from '../lib/api/schemas-queries';
import { nodeView } from '../lib/domain';
import { OPERATIONS } from '../lib/operations';
import { listNodePage } from '../lib/store';

// A page at a time, in nodeId order: a fleet's list outgrows one Lambda answer (6 MB) near 11,000 nodes.
async function list(_event: unknown, _context: unknown, { limit, next }: ListNodesQuery) {
  const page = await listNodePage(runtime().store, limit, next);
  return json(200, { nodes: page.nodes.map(nodeView), ...(page.after ? { next: pageToken.of(page.after) } : {}) });
}

// Takes `limit` and `next`; every other parameter is refused.
export const handler = httpHandler(OPERATIONS.listNodes, list, { query: listNodesQuerySchema });

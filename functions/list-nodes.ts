import { httpHandler, json } from '../lib/api/http';
import { nodeView } from '../lib/domain';
import { OPERATIONS } from '../lib/operations';
import { listNodes, storeFromEnv } from '../lib/store';

export const handler = httpHandler(OPERATIONS.listNodes, async () => {
  const nodes = await listNodes(storeFromEnv());
  return json(200, { nodes: nodes.map(nodeView) });
});

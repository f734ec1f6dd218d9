import { httpHandler, json } from '../lib/api/http';
import { nodeView } from '../lib/domain';
import { listNodes, storeFromEnv } from '../lib/store';

export const handler = httpHandler('ListNodes', async () => {
  const nodes = await listNodes(storeFromEnv());
  return json(200, { nodes: nodes.map(nodeView) });
});

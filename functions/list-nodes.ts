import { httpHandler, json } from '../lib/api/http';
import { runtime } from '../lib/api/runtime';
import { nodeView } from '../lib/domain';
import { listNodes } from '../lib/store';

export const handler = httpHandler('ListNodes', async () => {
  const nodes = await listNodes(runtime().store);
  return json(200, { nodes: nodes.map(nodeView) });
});

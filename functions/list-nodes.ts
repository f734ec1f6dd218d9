import { httpHandler, json } from '../lib/api/http';
import { runtime } from '../lib/api/runtime';
import { nodeView } from '../lib/domain';
import { OPERATIONS } from '../lib/operations';
import { listNodes } from '../lib/store';

export const handler = httpHandler(OPERATIONS.listNodes, async () => {
  const nodes = await listNodes(runtime().store);
  return json(200, { nodes: nodes.map(nodeView) });
});

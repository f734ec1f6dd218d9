import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { nodeIdSchema } from '../lib/api/schemas';
import { runtime } from '../lib/api/runtime';
import { nodeView } from '../lib/domain';
import { OPERATIONS } from '../lib/operations';
import { getNode } from '../lib/store';

export const handler = httpHandler(OPERATIONS.getNode, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  return json(200, nodeView(await getNode(runtime().store, nodeId)));
});

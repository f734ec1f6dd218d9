import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { nodeIdSchema } from '../lib/api/schemas';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import { deleteNode } from '../lib/store';

export const handler = httpHandler(OPERATIONS.deleteNode, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  await deleteNode(runtime().store, nodeId);
  return json(204);
});

import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { nodeIdSchema } from '../lib/api/schemas';
import { OPERATIONS } from '../lib/operations';
import { deleteNode, storeFromEnv } from '../lib/store';

export const handler = httpHandler(OPERATIONS.deleteNode, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  await deleteNode(storeFromEnv(), nodeId);
  return json(204);
});

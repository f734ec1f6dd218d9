import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { nodeIdSchema } from '../lib/api/schemas';
import { nodeView } from '../lib/domain';
import { OPERATIONS } from '../lib/operations';
import { getNode, storeFromEnv } from '../lib/store';

export const handler = httpHandler(OPERATIONS.getNode, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  return json(200, nodeView(await getNode(storeFromEnv(), nodeId)));
});

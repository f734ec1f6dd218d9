import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { nodeIdSchema } from '../lib/api/schemas';
import { instanceView } from '../lib/api/views';
import { OPERATIONS } from '../lib/operations';
import { nodeLedger, storeFromEnv } from '../lib/store';

export const handler = httpHandler(OPERATIONS.listInstances, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const { instances } = await nodeLedger(storeFromEnv(), nodeId);
  return json(200, { instances: instances.map(instanceView) });
});

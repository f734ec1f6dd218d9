import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { nodeIdSchema } from '../lib/api/schemas';
import { holdView, instanceView } from '../lib/api/views';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import { nodeLedger } from '../lib/store';

export const handler = httpHandler(OPERATIONS.listInstances, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const { instances, holds } = await nodeLedger(runtime().store, nodeId);
  return json(200, { instances: instances.map(instanceView), holds: holds.map(holdView) });
});

import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { instanceUuidSchema, nodeIdSchema } from '../lib/api/schemas';
import { instanceView } from '../lib/api/views';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import { getInstance } from '../lib/store';

export const handler = httpHandler(OPERATIONS.getInstance, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const instanceUuid = parse(instanceUuidSchema, pathParam(event, 'instanceUuid'), 'instanceUuid');
  return json(200, instanceView(await getInstance(runtime().store, nodeId, instanceUuid)));
});

import { httpHandler, json, parse, parseBody, pathParam } from '../lib/api/http';
import { instanceUuidSchema, nodeIdSchema, stateChangeSchema } from '../lib/api/schemas';
import { instanceView } from '../lib/api/views';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import { changeInstance } from '../lib/store';

export const handler = httpHandler(OPERATIONS.updateInstance, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const instanceUuid = parse(instanceUuidSchema, pathParam(event, 'instanceUuid'), 'instanceUuid');
  const change = parseBody(stateChangeSchema, event);
  const { record, released } = await changeInstance(runtime().store, nodeId, instanceUuid, change);
  return json(200, { ...instanceView(record), tracked: !released });
});

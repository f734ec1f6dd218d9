import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { instanceUuidSchema, nodeIdSchema } from '../lib/api/schemas';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import { releaseInstance } from '../lib/store';

export const handler = httpHandler(OPERATIONS.releaseInstance, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const instanceUuid = parse(instanceUuidSchema, pathParam(event, 'instanceUuid'), 'instanceUuid');
  // Releasing what is no longer tracked is a no-op, so a retried release answers the same.
  await releaseInstance(runtime().store, nodeId, instanceUuid);
  return json(204);
});

import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { runtime } from '../lib/api/runtime';
import { groupIdSchema } from '../lib/api/schemas-groups';
import { PLACEMENT_OPERATIONS as OPERATIONS } from '../lib/operations-placement';
import { deleteGroup } from '../lib/store';

export const handler = httpHandler(OPERATIONS.deleteServerGroup, async (event) => {
  const groupId = parse(groupIdSchema, pathParam(event, 'groupId'), 'groupId');
  await deleteGroup(runtime().store, groupId);
  return json(204);
});

import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { runtime } from '../lib/api/runtime';
import { groupIdSchema } from '../lib/api/schemas-groups';
import { PLACEMENT_OPERATIONS as OPERATIONS } from '../lib/operations-placement';
import { getGroupView } from '../lib/store';

export const handler = httpHandler(OPERATIONS.getServerGroup, async (event) => {
  const groupId = parse(groupIdSchema, pathParam(event, 'groupId'), 'groupId');
  return json(200, await getGroupView(runtime().store, groupId));
});

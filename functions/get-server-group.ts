import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { runtime } from '../lib/api/runtime';
import { groupIdSchema } from '../lib/api/schemas-placement';
import { OPERATIONS } from '../lib/operations';
import { getGroupView } from '../lib/store';

export const handler = httpHandler(OPERATIONS.getServerGroup, async (event) => {
  const groupId = parse(groupIdSchema, pathParam(event, 'groupId'), 'groupId');
  return json(200, await getGroupView(runtime().store, groupId));
});

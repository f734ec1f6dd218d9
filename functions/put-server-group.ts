import { httpHandler, json, parse, parseBody, pathParam } from '../lib/api/http';
import { runtime } from '../lib/api/runtime';
import { groupIdSchema, serverGroupSchema } from '../lib/api/schemas-groups';
import { groupView } from '../lib/api/views-placement';
import { PLACEMENT_OPERATIONS as OPERATIONS } from '../lib/operations-placement';
import { putGroup } from '../lib/store';

export const handler = httpHandler(OPERATIONS.putServerGroup, async (event) => {
  const groupId = parse(groupIdSchema, pathParam(event, 'groupId'), 'groupId');
  const { policy, rules } = parseBody(serverGroupSchema, event);
  const { created, group } = await putGroup(runtime().store, groupId, policy, rules);
  return json(created ? 201 : 200, groupView(group));
});

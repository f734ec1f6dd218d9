import { httpHandler, json, parseBody } from '../lib/api/http';
import { runtime } from '../lib/api/runtime';
import { candidatesBodySchema } from '../lib/api/schemas-candidates';
import { PLACEMENT_OPERATIONS as OPERATIONS } from '../lib/operations-placement';
import { findCandidates } from '../lib/store';

export const handler = httpHandler(OPERATIONS.postCandidates, async (event) => {
  const { required, forbidden, memberOf, strategy, limit, ...request } = parseBody(candidatesBodySchema, event);
  const found = await findCandidates(runtime().store, request, { required, forbidden, memberOf }, strategy, limit);
  return json(200, { candidates: found });
});

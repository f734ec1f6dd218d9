import { httpHandler, json, parseBody } from '../lib/api/http';
import { logger } from '../lib/api/logger';
import { count } from '../lib/api/metrics';
import { runtime } from '../lib/api/runtime';
import { placementSchema } from '../lib/api/schemas-placement';
import { instanceView } from '../lib/api/views';
import { OPERATIONS } from '../lib/operations';
import { place, placeGang } from '../lib/store';

export const handler = httpHandler(OPERATIONS.createPlacement, async (event) => {
  const body = parseBody(placementSchema, event);
  const store = runtime().store;
  const { required, forbidden, memberOf, strategy, candidates } = body;
  const filters = { required, forbidden, memberOf, ...(candidates ? { candidates } : {}) };
  if ('instances' in body) {
    const { created, placements } = await placeGang(store, {
      members: body.instances,
      serverGroup: body.serverGroup,
      filters,
      strategy,
    });
    if (created) count('Claims', placements.length);
    return json(created ? 201 : 200, {
      placements: placements.map(({ nodeId, record }) => ({
        instanceUuid: record.instanceUuid,
        nodeId,
        claim: instanceView(record),
      })),
    });
  }
  const { required: _r, forbidden: _f, memberOf: _m, strategy: _s, candidates: _c, ...claim } = body;
  logger.appendKeys({ instanceUuid: claim.instanceUuid });
  const { created, nodeId, record, attempts } = await place(store, { claim, filters, strategy });
  if (created) count('Claims');
  return json(created ? 201 : 200, { nodeId, claim: instanceView(record), attempts });
});

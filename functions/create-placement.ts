import { httpHandler, json, parse, parseBody } from '../lib/api/http';
import { logger } from '../lib/api/logger';
import { count } from '../lib/api/metrics';
import { runtime } from '../lib/api/runtime';
import {
  gangPlacementSchema,
  singlePlacementSchema,
  type GangPlacementBody,
  type SinglePlacementBody,
} from '../lib/api/schemas-placement';
import { instanceView } from '../lib/api/views';
import * as z from 'zod/mini';
import '../lib/api/zod';
import { PLACEMENT_OPERATIONS as OPERATIONS } from '../lib/operations-placement';
import { place, placeGang, type Store } from '../lib/store';

async function gang(store: Store, body: GangPlacementBody) {
  const { instances: members, serverGroup, required, forbidden, memberOf, strategy, candidates } = body;
  const filters = { required, forbidden, memberOf, ...(candidates ? { candidates } : {}) };
  const { created, placements } = await placeGang(store, { members, serverGroup, filters, strategy });
  if (created) count('Claims', placements.length);
  const views = placements.map(({ nodeId, record }) => ({
    instanceUuid: record.instanceUuid,
    nodeId,
    claim: instanceView(record),
  }));
  return json(created ? 201 : 200, { placements: views });
}

async function single(store: Store, body: SinglePlacementBody) {
  const { required, forbidden, memberOf, strategy, candidates, ...claim } = body;
  const filters = { required, forbidden, memberOf, ...(candidates ? { candidates } : {}) };
  logger.appendKeys({ instanceUuid: claim.instanceUuid });
  const { created, nodeId, record, attempts } = await place(store, { claim, filters, strategy });
  if (created) count('Claims');
  return json(created ? 201 : 200, { nodeId, claim: instanceView(record), attempts });
}

export const handler = httpHandler(OPERATIONS.createPlacement, async (event) => {
  // A gang is the body with `instances`: each shape is checked on its own, so its errors speak of that shape.
  const raw = parseBody(z.looseObject({}), event);
  const store = runtime().store;
  return 'instances' in raw
    ? gang(store, parse(gangPlacementSchema, raw, 'body'))
    : single(store, parse(singlePlacementSchema, raw, 'body'));
});

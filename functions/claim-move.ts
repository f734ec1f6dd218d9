import { httpHandler, json, parse, parseBody, pathParam, prefersMinimal } from '../lib/api/http';
import { logger } from '../lib/api/logger';
import { count } from '../lib/api/metrics';
import { nodeIdSchema } from '../lib/api/schemas';
import { moveClaimSchema } from '../lib/api/schemas-moves';
import { migrationView, moveClaimView } from '../lib/api/views';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import { claimMove, getNode } from '../lib/store';

export const handler = httpHandler(OPERATIONS.claimMove, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const request = parseBody(moveClaimSchema, event);
  const store = runtime().store;
  logger.appendKeys({ instanceUuid: request.instanceUuid, migrationId: request.migrationId });
  const { created, migration } = await claimMove(store, nodeId, request);
  if (created) count('MoveClaims');
  const node = prefersMinimal(event) ? undefined : await getNode(store, nodeId);
  return json(created ? 201 : 200, { migration: migrationView(migration), claim: moveClaimView(migration, node) });
});

import { httpHandler, json, parse, parseBody, pathParam, prefersMinimal } from '../lib/api/http';
import { moveClaimSchema, nodeIdSchema } from '../lib/api/schemas';
import { migrationView, moveClaimView } from '../lib/api/views';
import { claimMove, getNode, storeFromEnv } from '../lib/store';

export const handler = httpHandler(async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const request = parseBody(moveClaimSchema, event);
  const store = storeFromEnv();
  const { created, migration } = await claimMove(store, nodeId, request);
  const node = prefersMinimal(event) ? undefined : await getNode(store, nodeId);
  return json(created ? 201 : 200, { migration: migrationView(migration), claim: moveClaimView(migration, node) });
});

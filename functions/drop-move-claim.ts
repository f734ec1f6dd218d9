import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { dropQuerySchema, migrationIdSchema, nodeIdSchema } from '../lib/api/schemas';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import { dropMoveClaim } from '../lib/store';

export const handler = httpHandler(OPERATIONS.dropMoveClaim, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const migrationId = parse(migrationIdSchema, pathParam(event, 'migrationId'), 'migrationId');
  const { flavor } = parse(dropQuerySchema, event.queryStringParameters ?? {}, 'query');
  await dropMoveClaim(runtime().store, nodeId, migrationId, flavor);
  return json(204);
});

import { httpHandler, json, parse, pathParam } from '../lib/api/http';
import { dropQuerySchema, migrationIdSchema, nodeIdSchema } from '../lib/api/schemas';
import { OPERATIONS } from '../lib/operations';
import { dropMoveClaim, storeFromEnv } from '../lib/store';

export const handler = httpHandler(OPERATIONS.dropMoveClaim, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const migrationId = parse(migrationIdSchema, pathParam(event, 'migrationId'), 'migrationId');
  const { flavor } = parse(dropQuerySchema, event.queryStringParameters ?? {}, 'query');
  await dropMoveClaim(storeFromEnv(), nodeId, migrationId, flavor);
  return json(204);
});

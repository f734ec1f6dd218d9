import { httpHandler, json, parse, pathParam, type HttpEvent } from '../lib/api/http';
import { dropQuerySchema, migrationIdSchema, nodeIdSchema } from '../lib/api/schemas';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import { dropMoveClaim } from '../lib/store';

async function drop(event: HttpEvent) {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const migrationId = parse(migrationIdSchema, pathParam(event, 'migrationId'), 'migrationId');
  const { flavor } = parse(dropQuerySchema, event.queryStringParameters ?? {}, 'query');
  await dropMoveClaim(runtime().store, nodeId, migrationId, flavor);
  return json(204);
}

// The one route that takes a query parameter (`flavor`); every other parameter is refused.
export const handler = httpHandler(OPERATIONS.dropMoveClaim, drop, { query: dropQuerySchema });

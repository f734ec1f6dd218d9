import { httpHandler, json, parse, pathParam, type HttpEvent } from '../lib/api/http';
import { migrationIdSchema, nodeIdSchema } from '../lib/api/schemas';
import { dropQuerySchema, type DropQuery } from '../lib/api/schemas-queries';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import { dropMoveClaim } from '../lib/store';

async function drop(event: HttpEvent, _context: unknown, { flavor }: DropQuery) {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const migrationId = parse(migrationIdSchema, pathParam(event, 'migrationId'), 'migrationId');
  await dropMoveClaim(runtime().store, nodeId, migrationId, flavor);
  return json(204);
}

// Takes `flavor`; every other parameter is refused.
export const handler = httpHandler(OPERATIONS.dropMoveClaim, drop, { query: dropQuerySchema });

import { authorizeMigration, httpHandler, json, parse, parseBody, pathParam } from '../lib/api/http';
import { migrationIdSchema, statusUpdateSchema } from '../lib/api/schemas';
import { migrationView } from '../lib/api/views';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import { changeMigrationStatus, getMigration } from '../lib/store';

export const handler = httpHandler(OPERATIONS.updateMigrationStatus, async (event) => {
  const migrationId = parse(migrationIdSchema, pathParam(event, 'migrationId'), 'migrationId');
  const { status, sequence } = parseBody(statusUpdateSchema, event);
  const store = runtime().store;
  // A migration's nodes never change, so reading them ahead of the change cannot race it.
  await authorizeMigration(event, () => getMigration(store, migrationId));
  // A stale, repeated or out-of-order status is not an error: it answers 200 and changes nothing.
  const { migration, applied } = await changeMigrationStatus(store, migrationId, status, sequence);
  return json(200, { ...migrationView(migration), applied });
});

import { authorizeMigration, httpHandler, json, parse, parseBody, pathParam } from '../lib/api/http';
import { migrationIdSchema } from '../lib/api/schemas';
import { statusUpdateSchema } from '../lib/api/schemas-moves';
import { migrationView } from '../lib/api/views';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import type { Migration } from '../lib/domain';
import { changeMigrationStatus } from '../lib/store';

export const handler = httpHandler(OPERATIONS.updateMigrationStatus, async (event) => {
  const migrationId = parse(migrationIdSchema, pathParam(event, 'migrationId'), 'migrationId');
  const { status, sequence } = parseBody(statusUpdateSchema, event);
  const store = runtime().store;
  // A migration's nodes never change, so the agent's check runs on the change's own read of the migration.
  const check = (m: Migration) => authorizeMigration(event, () => Promise.resolve(m));
  // A stale, repeated or out-of-order status is not an error: it answers 200 and changes nothing.
  const { migration, applied } = await changeMigrationStatus(store, migrationId, status, sequence, check);
  return json(200, { ...migrationView(migration), applied });
});

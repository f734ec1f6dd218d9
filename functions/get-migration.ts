import { authorizeMigration, httpHandler, json, parse, pathParam } from '../lib/api/http';
import { migrationIdSchema } from '../lib/api/schemas';
import { migrationView } from '../lib/api/views';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import { getMigration } from '../lib/store';

export const handler = httpHandler(OPERATIONS.getMigration, async (event) => {
  const migrationId = parse(migrationIdSchema, pathParam(event, 'migrationId'), 'migrationId');
  const migration = await getMigration(runtime().store, migrationId);
  await authorizeMigration(event, async () => migration);
  return json(200, migrationView(migration));
});

// A fresh table per test file in the run's DynamoDB Local, wired to the handlers through the environment.
import { randomUUID } from 'node:crypto';
import { createStore, ensureTable, type Store } from '../../lib/store';

export async function freshTable(prefix = 'test'): Promise<Store> {
  const endpoint = process.env.DYNAMODB_ENDPOINT;
  if (!endpoint)
    throw new Error('DYNAMODB_ENDPOINT is not set: run the tests through jest (global setup starts DynamoDB Local)');
  const tableName = `${prefix}-${randomUUID().slice(0, 8)}`;
  process.env.TABLE_NAME = tableName;
  // Loaded here, not at the top: some test files set Powertools' environment before the handlers load.
  const { resetRuntime, runtime } = await import('../../lib/api/runtime');
  resetRuntime();
  // The test's own client, sharing the handlers' device cache as one container's code would.
  const store = createStore({ tableName, endpoint }, { devices: runtime().store.devices });
  await ensureTable(store);
  return store;
}

// A fresh table per test file in the run's DynamoDB Local, wired to the handlers through the environment.
import { randomUUID } from 'node:crypto';
import { createStore, ensureTable, resetStoreFromEnv, type Store } from '../../lib/store';

export async function freshTable(prefix = 'test'): Promise<Store> {
  const endpoint = process.env.DYNAMODB_ENDPOINT;
  if (!endpoint) throw new Error('DYNAMODB_ENDPOINT is not set: run the tests through jest (global setup starts DynamoDB Local)');
  const tableName = `${prefix}-${randomUUID().slice(0, 8)}`;
  const store = createStore({ tableName, endpoint });
  await ensureTable(store);
  process.env.TABLE_NAME = tableName;
  resetStoreFromEnv();
  return store;
}

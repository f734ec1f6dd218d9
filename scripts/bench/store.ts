// The bench's one door to the store: the tables it opens, the partitions it reads back, and what the
// baseline and the checks need of the table's layout. Nothing else in scripts/bench imports lib/store.
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { resetRuntime, runtime } from '../../lib/api/runtime';
import { createStore, ensureTable, layout, type Store } from '../../lib/store';

export type { Store };
export const { COLUMNS, DEVICE_PREFIX, deviceOf, INSTANCE_PREFIX, instanceKey, nodeKey, ownerKey } = layout;

let endpoint = '';

/** The DynamoDB Local every table is opened on. */
export function useEndpoint(url: string): void {
  endpoint = url;
}

export const currentEndpoint = () => endpoint;

/** The client the handlers send their requests with (the unit meter and the contention simulation hook on it). */
export const handlersClient = () => runtime().store.client;

/**
 * Creates a table, points the handlers' shared store at it, and answers a second store for the baseline
 * and the checks, with the handlers' client (counting.ts's openTable counts the requests of both).
 */
export async function createTable(prefix: string): Promise<{ store: Store; handlersClient: DynamoDBClient }> {
  const store = createStore({ tableName: `bench-${prefix}-${randomUUID().slice(0, 8)}`, endpoint });
  await ensureTable(store);
  process.env.TABLE_NAME = store.tableName;
  process.env.DYNAMODB_ENDPOINT = endpoint;
  resetRuntime();
  return { store, handlersClient: runtime().store.client };
}

/** The node's whole partition, every page of it, read strongly consistent: the tests' own reader. */
export { partition } from '../../test/support/ledger';


import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface StoreConfig {
  tableName: string;
  endpoint?: string;
  region?: string;
}

export interface Store {
  tableName: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
}

const isAws = (endpoint: string) => /\.amazonaws\.com(\.cn)?(:\d+)?\/?$/i.test(new URL(endpoint).host);

let instrument: ((client: DynamoDBClient) => void) | undefined;

/** Lets the API layer trace every DynamoDB client the store makes, without the store knowing about tracing. */
export function instrumentStoreClients(hook: (client: DynamoDBClient) => void): void {
  instrument = hook;
}

export function createStore(config: StoreConfig): Store {
  const client = new DynamoDBClient({
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    region: config.region ?? process.env.AWS_REGION ?? 'us-east-1',
    // DynamoDB Local accepts any credentials; AWS itself gets the usual provider chain.
    ...(config.endpoint && !isAws(config.endpoint) && !process.env.AWS_ACCESS_KEY_ID
      ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
    // One retry policy for the whole service lives in retry.ts; two stacked ones would multiply attempts.
    maxAttempts: 1,
  });
  instrument?.(client);
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  return { tableName: config.tableName, client, doc };
}

let shared: Store | undefined;

/** The store the handlers use, configured from the environment once per Lambda container. */
export function storeFromEnv(): Store {
  if (!shared) {
    const tableName = process.env.TABLE_NAME;
    if (!tableName) throw new Error('TABLE_NAME is not set');
    shared = createStore({ tableName, endpoint: process.env.DYNAMODB_ENDPOINT || undefined });
  }
  return shared;
}

/** Forget the shared store (tests and the local runner switch tables). */
export function resetStoreFromEnv(): void {
  shared = undefined;
}

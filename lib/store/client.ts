import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeviceCache } from './device-cache';
import { DEFAULT_RETRY, type RetryKind, type RetryPolicy, type Retrying } from './retry';

export interface StoreConfig {
  tableName: string;
  endpoint?: string;
  region?: string;
}

/** What the layer above plugs into a store (tracing, retry metrics, a shared device cache), all optional. */
export interface StoreHooks {
  /** Called with the DynamoDB client the store makes (for example to trace it). */
  instrumentClient?(client: DynamoDBClient): void;
  /** Called before every retry, with what kind of failure caused it. */
  onRetry?(kind: RetryKind): void;
  /** The container's device cache; a store of its own when left out. */
  devices?: DeviceCache;
  retryPolicy?: RetryPolicy;
}

export interface Store extends Retrying {
  tableName: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  devices: DeviceCache;
}

const isAws = (endpoint: string) => /\.amazonaws\.com(\.cn)?(:\d+)?\/?$/i.test(new URL(endpoint).host);

export function createStore(config: StoreConfig, hooks: StoreHooks = {}): Store {
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
  hooks.instrumentClient?.(client);
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  return {
    tableName: config.tableName,
    client,
    doc,
    devices: hooks.devices ?? new DeviceCache(),
    retry: { policy: hooks.retryPolicy ?? DEFAULT_RETRY, onRetry: hooks.onRetry },
  };
}

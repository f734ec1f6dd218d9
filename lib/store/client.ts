import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DeviceCache } from './device-cache';
import { NumaCellCache } from './numa-cell-cache';
import {
  DEFAULT_RETRY,
  outOfTime,
  tooLate,
  type RetryKind,
  type RetryPolicy,
  type Retrying,
  type TimeBudget,
} from './retry';

/**
 * The most one DynamoDB request may take, connecting included: a transaction takes tens of ms, so this is
 * a stalled store, and it leaves an HTTP Lambda (lib/operations.ts) time for a few attempts and its answer.
 */
export const REQUEST_TIMEOUT_MS = 2000;
/** DynamoDB Local on a busy machine takes over a second for a transaction; the local deadline is 30 s. */
export const LOCAL_REQUEST_TIMEOUT_MS = 5000;
const CONNECTION_TIMEOUT_MS = 1000;

export interface StoreConfig {
  tableName: string;
  endpoint?: string;
  region?: string;
  /** REQUEST_TIMEOUT_MS (LOCAL_REQUEST_TIMEOUT_MS with an endpoint outside AWS) unless given. */
  requestTimeoutMs?: number;
  /** How long a release refuses its claim sent again, in seconds; RELEASE_WINDOW_S unless given. */
  releaseWindowS?: number;
}

/** What the layer above plugs into a store (tracing, retry metrics, a shared device cache), all optional. */
export interface StoreHooks {
  /** Called with the DynamoDB client the store makes (for example to trace it). */
  instrumentClient?(client: DynamoDBClient): void;
  /** Called before every retry, with what kind of failure caused it. */
  onRetry?(kind: RetryKind): void;
  /** The container's device cache; a store of its own when left out. */
  devices?: DeviceCache;
  /** The container's copy of nodes' NUMA cells (rule NS7); a store of its own when left out. */
  numaCells?: NumaCellCache;
  retryPolicy?: RetryPolicy;
  /** What is left of the current invocation in ms (undefined outside one): no request starts that could outlast it. */
  remainingMs?(): number | undefined;
}

export interface Store extends Retrying {
  tableName: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  devices: DeviceCache;
  numaCells: NumaCellCache;
  /** See StoreConfig; RELEASE_WINDOW_S when left out. */
  releaseWindowS?: number;
}

const isAws = (endpoint: string) => /\.amazonaws\.com(\.cn)?(:\d+)?\/?$/i.test(new URL(endpoint).host);

export function createStore(config: StoreConfig, hooks: StoreHooks = {}): Store {
  const local = config.endpoint !== undefined && !isAws(config.endpoint);
  const requestMs = config.requestTimeoutMs ?? (local ? LOCAL_REQUEST_TIMEOUT_MS : REQUEST_TIMEOUT_MS);
  const client = new DynamoDBClient({
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    region: config.region ?? process.env.AWS_REGION ?? 'us-east-1',
    // DynamoDB Local accepts any credentials; AWS itself gets the usual provider chain.
    ...(local && !process.env.AWS_ACCESS_KEY_ID
      ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
    // One retry policy for the whole service lives in retry.ts; two stacked ones would multiply attempts.
    maxAttempts: 1,
    // A stalled DynamoDB fails the request with a TimeoutError, which the retry treats as one that may have
    // committed (retry.ts isAmbiguous), instead of holding the request until the Lambda is cut.
    requestHandler: {
      requestTimeout: requestMs,
      connectionTimeout: Math.min(requestMs, CONNECTION_TIMEOUT_MS),
      throwOnRequestTimeout: true,
    },
  });
  const budget: TimeBudget = { requestMs, remainingMs: hooks.remainingMs?.bind(hooks) };
  // Every request, whichever operation sends it, starts only if it ends before the invocation does.
  client.middlewareStack.add(
    (next) => async (args) => {
      if (outOfTime(budget)) throw tooLate();
      return next(args);
    },
    { step: 'initialize', name: 'timeBudget' },
  );
  // The SDK's own request log is never written (no logger is given; Powertools logs ours), yet its middleware
  // filters every input and output through the operation's schema for it: about 5 % of a Query's CPU.
  client.middlewareStack.remove('loggerMiddleware');
  hooks.instrumentClient?.(client);
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  return {
    tableName: config.tableName,
    client,
    doc,
    devices: hooks.devices ?? new DeviceCache(),
    numaCells: hooks.numaCells ?? new NumaCellCache(),
    releaseWindowS: config.releaseWindowS,
    retry: { policy: hooks.retryPolicy ?? DEFAULT_RETRY, onRetry: hooks.onRetry, budget },
  };
}

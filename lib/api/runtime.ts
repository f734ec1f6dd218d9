// The one runtime of a Lambda container (or of the local runner): the store configured from the
// environment, wired to the tracer and the metrics, built on first use and kept for the container's life.
import { createStore, type Store } from '../store';
import { countRetry } from './metrics';
import { remainingMs } from './observed';
import { tracer } from './tracer';

export interface Runtime {
  store: Store;
}

let current: Runtime | undefined;

/**
 * Builds the runtime from TABLE_NAME and DYNAMODB_ENDPOINT (the local runner's and the tests' DynamoDB Local);
 * DYNAMODB_REQUEST_TIMEOUT_MS, if set, replaces the store's request timeout (the tests shorten it).
 */
function build(): Runtime {
  const tableName = process.env.TABLE_NAME;
  if (!tableName) throw new Error('TABLE_NAME is not set');
  const timeout = Number(process.env.DYNAMODB_REQUEST_TIMEOUT_MS);
  const store = createStore(
    {
      tableName,
      endpoint: process.env.DYNAMODB_ENDPOINT || undefined,
      ...(timeout > 0 ? { requestTimeoutMs: timeout } : {}),
    },
    {
      remainingMs,
      instrumentClient: (client) => tracer.captureAWSv3Client(client),
      onRetry: countRetry,
    },
  );
  return { store };
}

/** The container's runtime; the first call builds it. */
export function runtime(): Runtime {
  current ??= build();
  return current;
}

/** Forgets the runtime, device cache included (tests and the local runner switch tables). */
export function resetRuntime(): void {
  current = undefined;
}

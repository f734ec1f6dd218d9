// The one runtime of a Lambda container (or of the local runner): the store configured from the
// environment, wired to the tracer and the metrics, built on first use and kept for the container's life.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createStore, DeviceCache, type Store } from '../store';
import { NumaCellCache } from '../store/numa-cell-cache';
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

const otherContainer = new AsyncLocalStorage<Runtime>();

/** The container's runtime; the first call builds it. Inside `inContainer`, that container's. */
export function runtime(): Runtime {
  const other = otherContainer.getStore();
  if (other) return other;
  current ??= build();
  return current;
}

/**
 * Another Lambda container's runtime in this process: the same DynamoDB client (and whatever is attached to it),
 * its own copies of devices and NUMA cells, which are what a container keeps of the ledger. In AWS
 * each container's copies lag the others' writes; running requests in several of these (`inContainer`) lets the
 * tests meet that here, where every handler otherwise shares one process and one copy.
 */
export function newContainer(): Runtime {
  const { store } = runtime();
  return { store: { ...store, devices: new DeviceCache(), numaCells: new NumaCellCache() } };
}

/** Runs `work` (a handler's invocation, awaited within) as in the container `container`. */
export function inContainer<T>(container: Runtime, work: () => T): T {
  return otherContainer.run(container, work);
}

/** Forgets the runtime, device cache included (tests and the local runner switch tables). */
export function resetRuntime(): void {
  current = undefined;
}

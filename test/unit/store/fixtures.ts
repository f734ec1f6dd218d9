// Requests and node images for the store's pure builders and classifiers (no DynamoDB involved).
import { marshall } from '@aws-sdk/util-dynamodb';
import type { ClaimRequest } from '../../../lib/domain';
import { createStore } from '../../../lib/store';

export const F1 = { vcpus: 1, memoryMb: 128, rootGb: 1, ephemeralGb: 0, swapMb: 0 };

export const claimRequest = (over: Partial<ClaimRequest> = {}): ClaimRequest => ({
  instanceUuid: 'i-1',
  flavor: F1,
  overhead: { memoryMb: 0, diskGb: 0, vcpus: 0 },
  volumeBacked: false,
  limits: {},
  pciRequests: [],
  vmState: 'building',
  taskState: null,
  osType: null,
  projectId: null,
  ...over,
});

/** A node item as DynamoDB returns it inside a cancellation (ALL_OLD, raw attribute values). */
export const nodeImage = (used: { memoryMb: number; localGb: number; vcpus: number }) =>
  marshall({
    pk: 'NODE#n1',
    sk: 'NODE',
    nodeId: 'n1',
    vcpus: 4,
    memoryMb: 512,
    localGb: 6,
    cpuAllocationRatio: 16,
    ramAllocationRatio: 1.5,
    diskAllocationRatio: 1,
    reservedHostMemoryMb: 0,
    reservedHostDiskMb: 0,
    reservedHostCpus: 0,
    memoryMbUsed: used.memoryMb,
    localGbUsed: used.localGb,
    vcpusUsed: used.vcpus,
  }) as Record<string, unknown>;

/** A store that never reaches a DynamoDB: its document client's send is the test's. */
export function offlineStore(send: (command: unknown) => Promise<unknown>) {
  const store = createStore(
    { tableName: 'unit', endpoint: 'http://127.0.0.1:9' },
    { retryPolicy: { attempts: 3, baseMs: 0, capMs: 0 } },
  );
  (store.doc as unknown as { send: typeof send }).send = send;
  return store;
}

/** A TransactionCanceledException with these reason codes, in the order of the items sent. */
export function cancelled(...reasons: { Code: string; Item?: Record<string, unknown> }[]) {
  return Object.assign(new Error('Transaction cancelled'), {
    name: 'TransactionCanceledException',
    CancellationReasons: reasons,
  });
}

export const OK = { Code: 'None' };
export const CCF = (Item?: Record<string, unknown>) => ({ Code: 'ConditionalCheckFailed', ...(Item ? { Item } : {}) });

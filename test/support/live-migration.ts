// Requests of the live-migration tests, over the handlers: a live-migration claim, a status, a node's usage.
import type { Store } from '../../lib/store';
import { api } from './api';
import { expectLedgerExact } from './ledger';

export const liveClaim = (
  dest: string,
  migrationId: string,
  instanceUuid: string,
  source: string,
  extra: object = {},
) =>
  api('POST', `/nodes/${dest}/move-claims`, {
    migrationId,
    instanceUuid,
    moveType: 'live-migration',
    sourceNodeId: source,
    ...extra,
  });

export const status = (migrationId: string, s: string, sequence?: number) =>
  api('POST', `/migrations/${migrationId}/status`, sequence === undefined ? { status: s } : { status: s, sequence });

/** "used m/d/v" of the examples (memory_mb_used / local_gb_used / vcpus_used), after the ledger adds up. */
export async function used(store: Store, nodeId: string): Promise<string> {
  await expectLedgerExact(store, nodeId);
  const n = (await api('GET', `/nodes/${nodeId}`)).body;
  return `${n.memoryMbUsed}/${n.localGbUsed}/${n.vcpusUsed}`;
}

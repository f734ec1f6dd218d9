// Claims on one hot node under DynamoDB's contention, simulated (rule CU4): 1, 4, 16 and 64 claimers at once,
// each request taking the modelled service latency, overlapping transactions on the node item cancelled.
import { randomUUID } from 'node:crypto';
import { Contention } from '../../test/support/contention';
import { checkAndDrop, type LedgerCheck } from './checks';
import { openTable } from './counting';
import { claimEvent, claimHandler, invoke } from './handlers';
import { registerNodes } from './loads';
import { measure, round, type Measured } from './measure';
import { failedWrites } from './report';
import { ROOMY_NODE, SETTINGS } from './settings';
import { handlersClient } from './store';

export interface ContentionRun {
  concurrency: number;
  latencyMs: number;
  measured: Measured;
  /** Successful claims per second. */
  goodput: number;
  /** Transactions cancelled with TransactionConflict (and single writes refused) per claim. */
  conflictsPerClaim: number;
  /** Attempts beyond the first per claim (failed TransactWriteItems). */
  retriesPerClaim: number;
  unavailable: number;
  check: LedgerCheck;
}

export async function contentionRuns(): Promise<ContentionRun[]> {
  const { concurrencies, claims, latencyMs } = SETTINGS.contention;
  const out: ContentionRun[] = [];
  for (const concurrency of concurrencies) {
    const store = await openTable(`contention-${concurrency}`);
    const nodeId = `hot-${concurrency}`;
    await registerNodes([nodeId], ROOMY_NODE);
    const contention = new Contention({ latencyMs });
    const remove = contention.attach(handlersClient());
    const uuids = Array.from({ length: claims }, () => randomUUID());
    let measured: Measured;
    try {
      measured = await measure(`${concurrency} claimers, ${latencyMs} ms`, 1, store.tableName, claims, concurrency, (i) =>
        invoke(claimHandler, 'claim-instance', claimEvent(nodeId, uuids[i] ?? '', true)),
      );
    } finally {
      remove();
    }
    const landed = measured.statuses['201'] ?? 0;
    const { cancelled, singleWrites } = contention.counts;
    out.push({
      concurrency, latencyMs, measured, goodput: round(landed / measured.seconds, 1),
      conflictsPerClaim: round((cancelled + singleWrites) / claims, 3), retriesPerClaim: round(failedWrites(measured) / claims, 3),
      unavailable: measured.statuses['503'] ?? 0, check: await checkAndDrop(store, [nodeId], { records: landed }),
    });
  }
  return out;
}

/** The targets at 16 claimers: no 503, and p99 within 10 × the modelled latency. */
export function contentionTargets(runs: ContentionRun[]): { what: string; met: boolean }[] {
  const at16 = runs.find((r) => r.concurrency === 16);
  if (!at16) return [];
  return [
    { what: `no 503 at 16 concurrent claimers (${at16.unavailable})`, met: at16.unavailable === 0 },
    {
      what: `p99 at 16 ≤ 10 × ${at16.latencyMs} ms (${at16.measured.p99Ms.toFixed(1)} ms)`,
      met: at16.measured.p99Ms <= 10 * at16.latencyMs,
    },
  ];
}

// The scheduled audit round in process (rule A5), as the round's state machine runs it in AWS
// (infra/audit-schedule.ts): the planner's handler, then every slice's handler, `concurrency` at a time,
// each step tried up to `sliceAttempts` times with a doubling wait; a slice that never succeeds fails the
// round, a planner that never succeeds throws.
import { handler as planHandler } from '../functions/audit-all';
import { handler as sliceHandler } from '../functions/audit-slice';
import { AUDIT_ROUND, eachAtOnce, type RoundPlan, type SliceResult } from '../lib/audit-round';
import { lambdaContext } from './events';

export interface RoundOptions {
  /** The planner's plan; by default the handler's (the round's own slice size). */
  plan?: () => Promise<RoundPlan>;
  /** The first retry's wait, doubling after; by default the state machine's. */
  retryDelayMs?: number;
}

export interface RoundReport {
  round: string;
  nodes: number;
  slices: number;
  /** Every slice that succeeded, in slice order. */
  results: SliceResult[];
  /** Slices that failed every attempt, with their last error. */
  failed: { index: number; error: string }[];
  /** Attempts per slice, by index. */
  attempts: number[];
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A step of the round tried as the state machine tries it: up to `sliceAttempts` times, waits doubling. */
async function tried<T>(run: () => Promise<T>, delayMs: number, onAttempt: (attempt: number) => void = () => {}) {
  for (let attempt = 1; ; attempt++) {
    onAttempt(attempt);
    try {
      return await run();
    } catch (error) {
      if (attempt >= AUDIT_ROUND.sliceAttempts) throw error;
      await pause(delayMs * 2 ** (attempt - 1));
    }
  }
}

export async function runAuditRound(options: RoundOptions = {}): Promise<RoundReport> {
  const delayMs = options.retryDelayMs ?? AUDIT_ROUND.retryDelaySeconds * 1000;
  const plan = await tried(options.plan ?? (() => planHandler({}, lambdaContext('audit-all'))), delayMs);
  const results: SliceResult[] = [];
  const failed: RoundReport['failed'] = [];
  const attempts: number[] = [];
  await eachAtOnce(plan.slices, AUDIT_ROUND.concurrency, async (slice) => {
    try {
      const run = () => sliceHandler({ round: plan.round, slice }, lambdaContext('audit-slice'));
      results.push(await tried(run, delayMs, (attempt) => (attempts[slice.index] = attempt)));
    } catch (error) {
      failed.push({ index: slice.index, error: (error as Error).message });
    }
  });
  results.sort((a, b) => a.index - b.index);
  return { round: plan.round, nodes: plan.nodes, slices: plan.slices.length, results, failed, attempts };
}

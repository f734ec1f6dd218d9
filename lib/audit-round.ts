// The scheduled audit round as data: how often, how the node index is cut into slices, how many slices run
// at once, how often a failed slice is tried, and the round's deadline. The round's state machine
// (infra/audit-schedule.ts), its Lambdas (functions/audit-all.ts, functions/audit-slice.ts) and the local
// runner's in-process round (local/audit-round.ts) all read it; it imports nothing. The figures are
// rule A5 (docs/audit.md), which shows the arithmetic.

/** A clean audit is one Query of the node's partition: 5 ms (10 instances) to 110 ms (1,000), per `npm run bench`. */
export const AUDIT_MS_PER_NODE = { typical: 10, worst: 110 } as const;

export const AUDIT_ROUND = {
  /** Nova audits every 60 s; here usage is exact by construction and the audit only finds outside drift. */
  periodMinutes: 5,
  /** The planner's Query of the keys-only index: 1,000 keys a page, 100 Queries for 100,000 nodes. */
  pageSize: 1000,
  /** Nodes a slice audits: 500 at the worst per-node time take 55 s one after another. */
  sliceSize: 500,
  /**
   * Nodes a slice audits at once: the audit waits on DynamoDB, so 2 at a time halve a slice. With 40 slices
   * that is 80 audits in flight, about 8,000 small strongly consistent Queries a second at 10 ms each: under
   * the 12,000 reads a second a new on-demand table serves, so a round does not throttle the claims.
   */
  nodesAtOnce: 2,
  /** Slices audited at once (the most an inline Map of Step Functions runs in parallel is 40). */
  concurrency: 40,
  /** Tries of each step, the plan and every slice (a crash, a timeout, a throttle, a failed node): 1 + 2. */
  sliceAttempts: 3,
  /** The first retry's wait; each later one waits twice as long. */
  retryDelaySeconds: 2,
  /** A slice's Lambda timeout: the worst slice audited one node at a time, with room to spare. */
  sliceTimeoutSeconds: 90,
  /** The planner's timeout: 100 index Queries take about 2 s. */
  planTimeoutSeconds: 60,
  /** A round longer than this fails (timed out), so that a round ends before the next one starts. */
  roundTimeoutSeconds: 4 * 60,
} as const;

/** A round that takes this share of its timeout or more is late: the fleet is outgrowing the round. */
export const AUDIT_LATE_SHARE = 0.8;

/** A slice of a round: the nodes after `after` (exclusive) up to `last` (inclusive); the last slice is open-ended. */
export interface AuditSlice {
  /** Its place in the round, from 0: logs and metrics name it. */
  index: number;
  after?: string;
  last?: string;
}

/** What the planner hands the round: its slices, in nodeId order, together covering the whole index. */
export interface RoundPlan {
  round: string;
  nodes: number;
  slices: AuditSlice[];
}

/** What the round hands a slice's Lambda. */
export interface SliceInput {
  round: string;
  slice: AuditSlice;
}

/**
 * What a slice reports when every node in it was audited (a slice with a failed node throws instead). The
 * state machine keeps only the counts, so that 200 slices' results stay far below its 256 KB payload.
 */
export interface SliceResult {
  round: string;
  index: number;
  audited: string[];
  repaired: string[];
  /** Nodes deleted between the plan and the slice: nothing to audit. */
  gone: string[];
}

/** How long a round of `nodes` takes at `msPerNode`, with every slice run at the round's concurrency. */
export function roundSeconds(nodes: number, msPerNode: number): number {
  const slices = Math.ceil(nodes / AUDIT_ROUND.sliceSize);
  const waves = Math.ceil(slices / AUDIT_ROUND.concurrency);
  return (waves * Math.ceil(AUDIT_ROUND.sliceSize / AUDIT_ROUND.nodesAtOnce) * msPerNode) / 1000;
}

/** Runs `run` on every item, at most `atOnce` at a time, in the items' order of start. */
export async function eachAtOnce<T>(
  items: readonly T[],
  atOnce: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(atOnce, items.length) }, worker));
}

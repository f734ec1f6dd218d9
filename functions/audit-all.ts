// The scheduled audit round's planner (rule A5): the round's state machine calls it first, and it cuts the
// keys-only node index into slices that functions/audit-slice.ts audits in parallel. It reads keys only:
// 100,000 nodes are 100 Queries of 1,000 keys, about 2 s, and the plan names 200 slices by their bounds.
import { randomUUID } from 'node:crypto';
import { AUDIT_ROUND, type AuditSlice, type RoundPlan } from '../lib/audit-round';
import { logger } from '../lib/api/logger';
import { count } from '../lib/api/metrics';
import { observed } from '../lib/api/observed';
import { runtime } from '../lib/api/runtime';
import { listNodeIdPage } from '../lib/store';

/** The slices of every node now in the index; the last one is open-ended, so a node registered since is audited too. */
export const plan = async ({
  sliceSize = AUDIT_ROUND.sliceSize,
  pageSize = AUDIT_ROUND.pageSize,
}: { sliceSize?: number; pageSize?: number } = {}): Promise<RoundPlan> => {
  const store = runtime().store;
  const round = randomUUID();
  // The last node of every full slice.
  const cuts: string[] = [];
  let nodes = 0;
  let after: string | undefined;
  do {
    const page = await listNodeIdPage(store, pageSize, { after });
    for (const nodeId of page.nodeIds) if (++nodes % sliceSize === 0) cuts.push(nodeId);
    after = page.after;
  } while (after !== undefined);
  // The last slice has no end, so that a node registered after the last cut is audited too.
  if (nodes > 0 && nodes % sliceSize === 0) cuts.pop();
  const slices: AuditSlice[] = [...cuts, undefined].map((last, index) => ({
    index,
    ...(index > 0 ? { after: cuts[index - 1] } : {}),
    ...(last === undefined ? {} : { last }),
  }));
  count('AuditRoundNodes', nodes);
  logger.info('audit round planned', { round, nodes, slices: slices.length });
  return { round, nodes, slices };
};

export const handler = observed<unknown, RoundPlan>(() => plan());

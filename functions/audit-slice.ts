// One slice of the scheduled audit round (rule A5): the nodes of the index between the slice's bounds,
// audited a few at a time. Audits are idempotent (rule A2: a node already exact is not written, a repaired
// one is exact the next time), so a slice that failed is simply tried again whole.
import { AUDIT_ROUND, eachAtOnce, type AuditSlice, type SliceInput, type SliceResult } from '../lib/audit-round';
import { logger } from '../lib/api/logger';
import { count, metrics } from '../lib/api/metrics';
import { observed } from '../lib/api/observed';
import { runtime } from '../lib/api/runtime';
import { NodeNotFound } from '../lib/errors';
import { auditNode, listNodeIdPage } from '../lib/store';
import { reportDrift } from './audit-node';

/** Thrown when a node of the slice could not be audited: the round retries the slice, then fails. */
export class SliceIncomplete extends Error {
  constructor(readonly failed: string[]) {
    super(`${failed.length} node(s) of the slice could not be audited: ${failed.slice(0, 10).join(', ')}`);
    this.name = 'SliceIncomplete';
  }
}

/** The slice's node ids: its range of the index, page after page (nodes registered since the plan included). */
async function nodesOf({ after, last }: AuditSlice): Promise<string[]> {
  const store = runtime().store;
  const ids: string[] = [];
  let from = after;
  do {
    const page = await listNodeIdPage(store, AUDIT_ROUND.pageSize, { after: from, last });
    ids.push(...page.nodeIds);
    from = page.after;
  } while (from !== undefined);
  return ids;
}

type Outcome = 'audited' | 'repaired' | 'gone' | 'failed';

async function auditOne(nodeId: string, { round, slice }: SliceInput): Promise<Outcome> {
  try {
    const result = await auditNode(runtime().store, nodeId);
    reportDrift(nodeId, result);
    // One EMF blob per node, so that each carries its node as metadata.
    metrics.publishStoredMetrics();
    return result.repaired ? 'repaired' : 'audited';
  } catch (error) {
    // Deleted between the plan and now: nothing left to audit.
    if (error instanceof NodeNotFound) return 'gone';
    logger.warn('audit failed', { nodeId, round, slice: slice.index, error: (error as Error).message });
    return 'failed';
  }
}

export const auditSlice = async (input: SliceInput): Promise<SliceResult> => {
  const nodeIds = await nodesOf(input.slice);
  const outcomes = new Map<string, Outcome>();
  await eachAtOnce(nodeIds, AUDIT_ROUND.nodesAtOnce, async (nodeId) => {
    outcomes.set(nodeId, await auditOne(nodeId, input));
  });
  const having = (o: Outcome) => nodeIds.filter((id) => outcomes.get(id) === o);
  const failed = having('failed');
  count('AuditFailures', failed.length);
  if (failed.length > 0) throw new SliceIncomplete(failed);
  const repaired = having('repaired');
  return {
    round: input.round,
    index: input.slice.index,
    audited: nodeIds.filter((id) => outcomes.get(id) !== 'gone'),
    repaired,
    gone: having('gone'),
  };
};

export const handler = observed<SliceInput, SliceResult>((slice) => auditSlice(slice));

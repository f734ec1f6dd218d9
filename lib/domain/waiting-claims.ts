// Claims waiting on one hot node, committed together (rule CU5): which of them the node takes, first come first
// served, and the bounds on the node item under which every one of them passes its own guards, applied one after
// another in that order, exactly as if each had been committed alone.
import type { ResourceGuard } from './claim';
import { RESOURCES, type Amounts, type Resource } from './resources';

export interface WaitingClaim {
  amounts: Amounts;
  guards: Record<Resource, ResourceGuard>;
}

/** The figures of the node item the guards read. */
export interface NodeFigures {
  used: Amounts;
  headroom: Amounts;
}

/** What the node item must show before a batch, per resource; absent: no bound. */
export interface BatchBound {
  headroomAtLeast?: number;
  usedAtMost?: number;
}

const passes = (g: ResourceGuard, used: number, headroom: number) =>
  g.kind === 'none' || (g.kind === 'headroom' ? headroom >= g.atLeast : used <= g.value);

/** Whether a claim passes its guards on a node showing `figures`. */
export const fitsOn = (figures: NodeFigures, claim: WaitingClaim) =>
  RESOURCES.every((r) => passes(claim.guards[r], figures.used[r], figures.headroom[r]));

/**
 * The waiting claims, in the order they began to wait, that the node takes: each one that passes its guards once
 * those taken before it are counted; one that does not is passed over, not the ones behind it. At most `max`.
 */
export function takeInOrder<W extends WaitingClaim>(node: NodeFigures, waiting: readonly W[], max: number): W[] {
  const figures: NodeFigures = { used: { ...node.used }, headroom: { ...node.headroom } };
  const out: W[] = [];
  for (const w of waiting) {
    if (out.length >= max) break;
    if (!fitsOn(figures, w)) continue;
    for (const r of RESOURCES) {
      figures.used[r] += w.amounts[r];
      figures.headroom[r] -= w.amounts[r];
    }
    out.push(w);
  }
  return out;
}

/**
 * The bounds on the node item, before the batch, that hold exactly when every claim of the batch passes its
 * guards after the claims before it: claim i needs headroom - before(i) >= atLeast(i), or used + before(i) <= value(i).
 */
export function batchBounds(batch: readonly WaitingClaim[]): Record<Resource, BatchBound> {
  const out = {} as Record<Resource, BatchBound>;
  for (const r of RESOURCES) {
    const bound: BatchBound = {};
    let before = 0;
    for (const { guards, amounts } of batch) {
      const g = guards[r];
      if (g.kind === 'headroom')
        bound.headroomAtLeast = Math.max(bound.headroomAtLeast ?? -Infinity, g.atLeast + before);
      if (g.kind === 'usedAtMost') bound.usedAtMost = Math.min(bound.usedAtMost ?? Infinity, g.value - before);
      before += amounts[r];
    }
    out[r] = bound;
  }
  return out;
}

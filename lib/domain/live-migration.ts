// Live migration (docs/moves.md, rules L1 to L6): what its claim refuses from the request alone, when a second
// claim of the same migration re-targets it, and which holds an audit finds stale. Pure.
import type { PciRequest } from './claim';
import type { Migration, MoveType } from './migration';

/** Nova's reason (claims.py, MoveClaim._test_pci); refusalMessage adds the final dot, hence Nova's "..". */
export const LIVE_PCI_REASON = 'Non-VIF related PCI requests are not supported for live migration.';

/**
 * Rule L3: a request that names a flavor alias is the flavor's, one without is a Neutron port's. Only port
 * devices can follow a live guest, so any alias request refuses the claim.
 */
export function livePciRefusal(moveType: MoveType, requests: readonly PciRequest[]): string | undefined {
  if (moveType !== 'live-migration') return undefined;
  return requests.some((r) => r.aliasName !== undefined) ? LIVE_PCI_REASON : undefined;
}

export type RetargetDecision = { kind: 'retarget' } | { kind: 'conflict'; reason: string };

/**
 * Rule L4: a move claim for an existing migration, made by another request, re-targets it when it is the
 * same live migration (instance, source), still `accepted`, sent to a node it has not been on. Nova's
 * scheduler never returns to a destination it tried, so a claim for a former one is a late retry.
 */
export function retargetDecision(
  m: Migration,
  request: { instanceUuid: string; sourceNodeId: string; moveType: MoveType },
  destNodeId: string,
): RetargetDecision {
  const conflict = (reason: string): RetargetDecision => ({ kind: 'conflict', reason });
  const differs =
    m.moveType !== 'live-migration' ||
    request.moveType !== 'live-migration' ||
    m.instanceUuid !== request.instanceUuid ||
    m.sourceNodeId !== request.sourceNodeId;
  if (differs) return conflict(`Migration ${m.migrationId} already exists with a different request.`);
  if (destNodeId === m.destNodeId)
    return conflict(`Migration ${m.migrationId} already holds node ${destNodeId} with a different request.`);
  if ((m.formerDestNodeIds ?? []).includes(destNodeId))
    return conflict(`Migration ${m.migrationId} has left node ${destNodeId} for node ${m.destNodeId}.`);
  if (m.status !== 'accepted')
    return conflict(
      `Migration ${m.migrationId} is ${m.status} to node ${m.destNodeId}: only an accepted live migration can be re-targeted.`,
    );
  return { kind: 'retarget' };
}

/** The migration after a re-target: the new claim's destination and size, the old one's history and version. */
export function retargeted(previous: Migration, claimed: Migration): Migration {
  return {
    ...claimed,
    status: previous.status,
    sequence: previous.sequence,
    formerDestNodeIds: [...(previous.formerDestNodeIds ?? []), previous.destNodeId],
    version: previous.version + 1,
  };
}

/** How long a hold counts as fresh without the agent listing its migration: 15 minutes (rule L6). */
export const STALE_HOLD_DEFAULT_MS = 15 * 60 * 1000;

/**
 * Rule L6: a hold is stale when its migration is not among those the agent says it has in progress and it
 * is older than `maxAgeMs`. A hold written before holds had a time has no age and counts as old.
 */
export function isStaleHold(
  hold: { migrationId: string; heldAt?: number },
  inProgress: ReadonlySet<string>,
  nowMs: number,
  maxAgeMs: number,
): boolean {
  if (inProgress.has(hold.migrationId)) return false;
  return hold.heldAt === undefined || nowMs - hold.heldAt >= maxAgeMs;
}

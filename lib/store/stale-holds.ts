// The audit's release of holds whose migration ended without a final status (rule L6).
import { isStaleHold, STALE_HOLD_DEFAULT_MS } from '../domain';
import { auditNode, type AuditInput, type AuditResult } from './audit';
import type { Store } from './client';
import { HOLD_PREFIX, holdKey, holdOf, type HoldItem } from './items';
import { dropMoveClaim } from './move-claim';
import { queryAll } from './query';

/** A hold the audit released, as it reports it. */
export type ReleasedHold = Pick<HoldItem, 'migrationId' | 'instanceUuid' | 'role' | 'memoryMb' | 'diskGb' | 'vcpus'>;

/** How old a hold must be before the audit may release it (rule L6): STALE_HOLD_MINUTES, else the default. */
export function staleHoldAgeMs(fallbackMs: number): number {
  const minutes = Number(process.env.STALE_HOLD_MINUTES);
  return minutes > 0 ? minutes * 60_000 : fallbackMs;
}

/**
 * Rule L6: releases every hold on the node whose migration the agent no longer has in progress and that is
 * older than `maxAgeMs`, each as drop_move_claim does (its own transaction, devices included). A hold that a
 * status change moved meanwhile is gone and is not counted.
 */
export async function releaseStaleHolds(
  store: Store,
  nodeId: string,
  inProgress: readonly string[],
  maxAgeMs: number,
  nowMs = Date.now(),
): Promise<ReleasedHold[]> {
  const listed = new Set(inProgress);
  const items = await queryAll(store, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :hold)',
    ExpressionAttributeValues: { ':pk': holdKey(nodeId, '', 'new').pk, ':hold': HOLD_PREFIX },
    ConsistentRead: true,
  });
  const released: ReleasedHold[] = [];
  for (const hold of items.map(holdOf).filter((h) => isStaleHold(h, listed, nowMs, maxAgeMs))) {
    if (await dropMoveClaim(store, nodeId, hold.migrationId, hold.role)) {
      const { migrationId, instanceUuid, role, memoryMb, diskGb, vcpus } = hold;
      released.push({ migrationId, instanceUuid, role, memoryMb, diskGb, vcpus });
    }
  }
  return released;
}

/**
 * The agent's audit (POST /nodes/{id}/audit): with `migrations`, the stale holds go first (rule L6), then the
 * recount; what they held is part of the drift reported, as it would have been had the recount found them.
 */
export async function auditNodeAndHolds(
  store: Store,
  nodeId: string,
  input: AuditInput & { migrations?: string[] },
): Promise<AuditResult & { releasedHolds: ReleasedHold[] }> {
  const { migrations, ...rest } = input;
  const releasedHolds = migrations
    ? await releaseStaleHolds(store, nodeId, migrations, staleHoldAgeMs(STALE_HOLD_DEFAULT_MS))
    : [];
  const result = await auditNode(store, nodeId, rest);
  if (!releasedHolds.length) return { ...result, releasedHolds };
  const drift = { ...result.drift };
  for (const h of releasedHolds) {
    drift.memoryMbUsed -= h.memoryMb;
    drift.localGbUsed -= h.diskGb;
    drift.vcpusUsed -= h.vcpus;
  }
  return { ...result, drift, repaired: true, releasedHolds };
}

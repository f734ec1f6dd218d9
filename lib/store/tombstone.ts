// A release leaves a tombstone on the instance's owner item instead of deleting it (rule O5): a client's
// retry of the claim that arrives after the release must not take the capacity again, and only the
// owner item can tell it, since the claim sends nothing but its write.
import type { InstanceRecord } from '../domain';
import { InstanceConflict } from '../errors';
import { ownerKey } from './items';

/** How long a release refuses the claim it ended, sent again to the same node (docs/claims.md, O5). */
export const RELEASE_WINDOW_S = 15 * 60;

const seconds = (ms: number) => Math.floor(ms / 1000);

export interface Tombstone {
  released: true;
  nodeId: string;
  /** The node the claim was made on: a move changes `nodeId`, not this. */
  claimedOn: string;
  fingerprint: string;
  releasedAt: string;
  /** Epoch seconds; also the table's TTL attribute, which only tidies up (the claim's condition reads it). */
  expiresAt: number;
}

/**
 * The owner item's update of a release: an Update, not a Put, so that `claimedOn` survives; it is one
 * item of the release's transaction, as the Delete it replaces was.
 */
export function tombstoneUpdate(tableName: string, record: InstanceRecord, windowS: number, nowMs = Date.now()) {
  return {
    Update: {
      TableName: tableName,
      Key: ownerKey(record.instanceUuid),
      UpdateExpression:
        'SET #type = :type, released = :t, nodeId = :node, claimedOn = if_not_exists(claimedOn, :node), ' +
        'fingerprint = :fp, releasedAt = :at, expiresAt = :exp',
      ExpressionAttributeNames: { '#type': 'type' },
      ExpressionAttributeValues: {
        ':type': 'owner',
        ':t': true,
        ':node': record.nodeId,
        ':fp': record.fingerprint,
        ':at': new Date(nowMs).toISOString(),
        ':exp': seconds(nowMs) + windowS,
      },
    },
  };
}

/**
 * The condition of a claim's owner Put: no owner, or a tombstone of another request, another node, or
 * one whose window has passed. Correct without TTL: an expired tombstone is just taken over.
 */
export function ownerFreeCondition(nodeId: string, fingerprint: string, nowMs = Date.now()) {
  return {
    ConditionExpression:
      'attribute_not_exists(pk) OR (released = :t AND (claimedOn <> :node OR fingerprint <> :fp OR expiresAt < :now))',
    ExpressionAttributeValues: { ':t': true, ':node': nodeId, ':fp': fingerprint, ':now': seconds(nowMs) },
  };
}

/** Whether an owner item is a tombstone (the instance is not claimed). */
export const isTombstone = (owner: Record<string, unknown>) => owner.released === true;

/** Whether a tombstone refuses this claim: the released claim's own request, on its node, inside the window. */
export const repeatsRelease = (
  owner: Record<string, unknown>,
  mine: { nodeId: string; fingerprint: string },
  nowMs = Date.now(),
) =>
  isTombstone(owner) &&
  owner.claimedOn === mine.nodeId &&
  owner.fingerprint === mine.fingerprint &&
  Number(owner.expiresAt) >= seconds(nowMs);

export function releasedConflict(instanceUuid: string, owner: Record<string, unknown>): InstanceConflict {
  const windowS = Number(owner.expiresAt) - seconds(Date.parse(String(owner.releasedAt)));
  const window = windowS >= 60 ? `${Math.round(windowS / 60)} minutes` : `${windowS} s`;
  return new InstanceConflict(
    `Instance ${instanceUuid} was released on node ${String(owner.nodeId)} at ${String(owner.releasedAt)}; ` +
      'this request repeats the released claim. A new claim of the instance (unshelve, rebuild) differs in ' +
      `its state or flavor, or may be sent after ${new Date(Number(owner.expiresAt) * 1000).toISOString()} ` +
      `(${window} after the release).`,
  );
}

// Whose claim an instance is, read off its owner item: what a claim's owner Put would have found, for the
// paths that decide a claim before its transaction (a NUMA or PCI refusal, a waiting claim the node no longer takes).
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { InstanceRecord } from '../domain';
import { InstanceConflict } from '../errors';
import type { Store } from './client';
import { getInstance } from './instances';
import { ownerKey } from './items';
import { isTombstone, releasedConflict, repeatsRelease } from './tombstone';

export function conflict(
  instanceUuid: string,
  nodeId: string,
  holder: Record<string, unknown> | undefined,
): InstanceConflict {
  return new InstanceConflict(
    holder && holder.nodeId !== nodeId
      ? `Instance ${instanceUuid} is already claimed on node ${String(holder.nodeId)}.`
      : `Instance ${instanceUuid} is already claimed on node ${nodeId} with a different request.`,
  );
}

/**
 * The claim already made by the same request on this node, if there is one; a conflict if the instance
 * is claimed otherwise (elsewhere, or here by a different request) or this request's claim was released
 * within the window. Any other tombstone is an instance not claimed.
 */
export async function ownClaim(
  store: Store,
  nodeId: string,
  instanceUuid: string,
  print: string,
): Promise<{ record: InstanceRecord } | undefined> {
  const out = await store.doc.send(
    new GetCommand({ TableName: store.tableName, Key: ownerKey(instanceUuid), ConsistentRead: true }),
  );
  if (!out.Item) return undefined;
  if (repeatsRelease(out.Item, { nodeId, fingerprint: print })) throw releasedConflict(instanceUuid, out.Item);
  if (isTombstone(out.Item)) return undefined;
  if (out.Item.nodeId !== nodeId || out.Item.fingerprint !== print) throw conflict(instanceUuid, nodeId, out.Item);
  return { record: await getInstance(store, nodeId, instanceUuid) };
}

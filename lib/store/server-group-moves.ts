// Server groups across moves (rule G9): a member moving to another node counts on both while the move lasts, as
// Nova's resize holds both; the move's end takes it off the node it left (or, reverted, off the one it did not reach).
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { groupGuard, violationMessage, type Holding, type InstanceRecord, type Migration } from '../domain';
import { GroupPolicyViolation } from '../errors';
import type { Store } from './client';
import type { NamedItem } from './commit';
import { instanceKey, instanceRecordOf, ownerKey } from './items';
import { readItems } from './reads';
import { withRetry } from './retry';
import { getServerGroup, groupHostKey, groupKey, hostJoin, memberKey } from './server-groups';
import { isTombstone } from './tombstone';

/**
 * The move claim's group items: the destination's host item takes the member, conditioned as a claim's is. Read
 * first, so a destination the policy refuses is GroupPolicyViolation; the condition catches a claim that races
 * the move (the move claim then reads again and is refused).
 */
export async function moveJoinItems(store: Store, instance: InstanceRecord, destNodeId: string): Promise<NamedItem[]> {
  const groupId = instance.serverGroup;
  if (groupId === undefined || destNodeId === instance.nodeId) return [];
  const group = await getServerGroup(store, groupId);
  const guard = groupGuard(group.policy, group.rules);
  const host = await withRetry(store, () =>
    store.doc.send(
      new GetCommand({ TableName: store.tableName, Key: groupHostKey(destNodeId, groupId), ConsistentRead: true }),
    ),
  );
  const here = Number(host.Item?.members ?? 0);
  // Affinity: the member may leave only if it is the group's only one.
  const refused = guard.kind === 'one-node' ? group.memberCount > 1 : guard.kind === 'at-most' && here >= guard.perNode;
  if (refused) throw new GroupPolicyViolation(violationMessage(groupId, group, destNodeId));
  const items: NamedItem[] = [
    {
      name: 'group-host',
      item: hostJoin(store, groupId, destNodeId, 1, guard.kind === 'at-most' ? guard.perNode : undefined),
    },
  ];
  if (guard.kind === 'one-node') {
    items.push({
      name: 'group',
      item: {
        Update: {
          TableName: store.tableName,
          Key: groupKey(groupId),
          UpdateExpression: 'ADD memberCount :zero',
          ConditionExpression: 'memberCount = :one',
          ExpressionAttributeValues: { ':zero': 0, ':one': 1 },
        },
      },
    });
  }
  return items;
}

/**
 * The end of a member's move between two nodes: off the node it is not on, its member item and the group on `host`.
 * `removed` are the holdings the final status takes away: when none is on the other node, a dropped hold (rules O9,
 * L6) already took the member off it, and it is not taken off twice.
 */
export function moveEndItems(
  store: Store,
  m: Migration,
  record: InstanceRecord,
  host: string,
  removed: readonly Pick<Holding, 'nodeId'>[],
): NamedItem[] {
  const groupId = record.serverGroup;
  if (groupId === undefined || m.sourceNodeId === m.destNodeId) return [];
  const other = host === m.destNodeId ? m.sourceNodeId : m.destNodeId;
  return [
    ...(removed.some((h) => h.nodeId === other) ? hostLeave(store, groupId, other) : []),
    ...settle(store, groupId, record.instanceUuid, host),
  ];
}

/** The member item and an affinity group's node where the member now is, alone. */
function settle(store: Store, groupId: string, instanceUuid: string, host: string): NamedItem[] {
  const set = (Key: Record<string, string>, attribute: string): NamedItem['item'] => ({
    Update: {
      TableName: store.tableName,
      Key,
      UpdateExpression: 'SET #a = :host',
      ExpressionAttributeNames: { '#a': attribute },
      ExpressionAttributeValues: { ':host': host },
    },
  });
  return [
    { name: 'group-member', item: set(memberKey(groupId, instanceUuid), 'nodeId') },
    // Meaningful for affinity only, where the member moving is the group's only one.
    { name: 'group', item: set(groupKey(groupId), 'hostNode') },
  ];
}

/** The member off `nodeId`'s host item of its group. */
function hostLeave(store: Store, groupId: string, nodeId: string): NamedItem[] {
  return [
    {
      name: `group-host@${nodeId}`,
      item: {
        Update: {
          TableName: store.tableName,
          Key: groupHostKey(nodeId, groupId),
          UpdateExpression: 'ADD members :minus',
          ExpressionAttributeValues: { ':minus': -1 },
        },
      },
    },
  ];
}

/**
 * A live migration's re-target takes the member off the former destination it joined at the move claim (rule G9),
 * in the re-target's own write: the member counts on its source and the new destination only, as a move does.
 */
export function retargetLeaveItems(store: Store, instance: InstanceRecord, former: string): NamedItem[] {
  const groupId = instance.serverGroup;
  return groupId === undefined || former === instance.nodeId ? [] : hostLeave(store, groupId, former);
}

/**
 * A dropped hold's group items (rules O9, L6): a hold on a node the instance is not on is what counted the member
 * there (the move claim's join, or the source kept after `finished`), so it leaves that node's host item, in the
 * drop's own write, conditioned on the record read (a status that moved it meanwhile makes the drop read again).
 */
export async function dropLeaveItems(
  store: Store,
  hold: { nodeId: string; instanceUuid: string; migrationId: string },
): Promise<NamedItem[]> {
  const [owner] = await readItems(store, [ownerKey(hold.instanceUuid)]);
  const at = owner && !isTombstone(owner) ? String(owner.nodeId) : hold.nodeId;
  if (at === hold.nodeId) return [];
  const [item] = await readItems(store, [instanceKey(at, hold.instanceUuid)]);
  const record = item ? instanceRecordOf(item) : undefined;
  if (record?.serverGroup === undefined || record.migrationId !== hold.migrationId) return [];
  const unchanged: NamedItem = {
    name: 'group-record',
    item: {
      ConditionCheck: {
        TableName: store.tableName,
        Key: instanceKey(at, hold.instanceUuid),
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: { ':v': record.version },
      },
    },
  };
  return [
    unchanged,
    ...hostLeave(store, record.serverGroup, hold.nodeId),
    ...settle(store, record.serverGroup, hold.instanceUuid, at),
  ];
}

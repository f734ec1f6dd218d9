// Server groups (rules G7-G9). The group item (GROUP#id / GROUP) counts members and, for affinity, names
// their node; a member item per instance (GROUP#id / MEMBER#uuid) lists them; a host item per group and
// node lives in the node's partition (NODE#id / GROUP#id) and counts the members there. A claim into a
// group writes all three in the claim's own transaction, so the policy is checked by the same conditional
// write that takes the capacity: two racing claims cannot both pass it.
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  canonical,
  groupGuard,
  violationMessage,
  type GroupRules,
  type InstanceRecord,
  type Policy,
  type ServerGroup,
} from '../domain';
import { GroupInUse, GroupNotFound, GroupPolicyViolation } from '../errors';
import type { ClaimExtra } from './claim';
import type { Store } from './client';
import { deleteIfUnused, sendOne, type NamedItem, type Reasons } from './commit';
import { Expression } from './expression';
import { plain } from './plain';
import { queryAll } from './query';
import { conditionFailed, failed } from './outcomes';
import { Contended, withRetry } from './retry';

export const groupKey = (groupId: string) => ({ pk: `GROUP#${groupId}`, sk: 'GROUP' });
export const memberKey = (groupId: string, instanceUuid: string) => ({
  pk: `GROUP#${groupId}`,
  sk: `MEMBER#${instanceUuid}`,
});
export const groupHostKey = (nodeId: string, groupId: string) => ({ pk: `NODE#${nodeId}`, sk: `GROUP#${groupId}` });
export const GROUP_HOST_PREFIX = 'GROUP#';

export interface GroupView extends Pick<ServerGroup, 'groupId' | 'policy' | 'rules'> {
  members: { instanceUuid: string; nodeId: string }[];
}

const rulesKey = (rules: GroupRules) => canonical(rules);

export function groupOf(item: Record<string, unknown>): ServerGroup {
  return {
    groupId: String(item.groupId),
    policy: item.policy as Policy,
    rules: (item.rules as GroupRules | undefined) ?? {},
    memberCount: Number(item.memberCount ?? 0),
    ...(typeof item.hostNode === 'string' ? { hostNode: item.hostNode } : {}),
  };
}

/**
 * Creates the group or sets its policy and rules; refused with GroupInUse when they would change while the
 * group has members (rule G7). One read (to tell 201 from 200), then one conditional UpdateItem.
 */
export async function putGroup(
  store: Store,
  groupId: string,
  policy: Policy,
  rules: GroupRules,
): Promise<{ created: boolean; group: ServerGroup }> {
  let absent: boolean | undefined;
  return withRetry<{ created: boolean; group: ServerGroup }, true>(store, async (context) => {
    const before = await readGroup(store, groupId);
    absent ??= before === undefined;
    const e = new Expression();
    const zero = e.value(0);
    const p = e.value(policy);
    const r = e.value(rulesKey(rules));
    try {
      const out = await sendOne(context, true, () =>
        store.doc.send(
          new UpdateCommand({
            TableName: store.tableName,
            Key: groupKey(groupId),
            UpdateExpression: `SET ${e.name('type')} = ${e.value('server-group')}, ${e.name('groupId')} = ${e.value(groupId)}, ${e.name('policy')} = ${p}, ${e.name('rules')} = ${e.value(rules)}, ${e.name('rulesKey')} = ${r}, ${e.name('memberCount')} = if_not_exists(${e.name('memberCount')}, ${zero})`,
            ConditionExpression: `attribute_not_exists(${e.name('pk')}) OR ${e.name('memberCount')} = ${zero} OR (${e.name('policy')} = ${p} AND ${e.name('rulesKey')} = ${r})`,
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            ...e.params(),
          }),
        ),
      );
      return { created: absent, group: groupOf(out.Attributes ?? {}) };
    } catch (error) {
      if (!conditionFailed(error)) throw error;
      const image = (error as { Item?: Record<string, unknown> }).Item;
      throw new GroupInUse(groupId, image ? groupOf(plain(image)).memberCount : 0);
    }
  });
}

async function readGroup(store: Store, groupId: string): Promise<ServerGroup | undefined> {
  const out = await withRetry(store, () =>
    store.doc.send(new GetCommand({ TableName: store.tableName, Key: groupKey(groupId), ConsistentRead: true })),
  );
  return out.Item ? groupOf(out.Item) : undefined;
}

/** The group, or GroupNotFound. */
export async function getServerGroup(store: Store, groupId: string): Promise<ServerGroup> {
  const group = await readGroup(store, groupId);
  if (!group) throw new GroupNotFound(groupId);
  return group;
}

/** The group and its members, from strongly consistent Queries of the group's partition. */
export async function getGroupView(store: Store, groupId: string): Promise<GroupView> {
  const items = await queryAll(store, {
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': groupKey(groupId).pk },
    ConsistentRead: true,
  });
  const head = items.find((i) => i.sk === 'GROUP');
  if (!head) throw new GroupNotFound(groupId);
  const { policy, rules } = groupOf(head);
  const members = items
    .filter((i) => String(i.sk).startsWith('MEMBER#'))
    .map((i) => ({ instanceUuid: String(i.instanceUuid), nodeId: String(i.nodeId) }));
  return { groupId, policy, rules, members };
}

/** Deletes a group without members (rule G7); GroupInUse with members, GroupNotFound if there is none. */
export async function deleteGroup(store: Store, groupId: string): Promise<void> {
  const outcome = await deleteIfUnused(store, groupKey(groupId), 'memberCount');
  if (outcome.kind === 'in-use') throw new GroupInUse(groupId, groupOf(outcome.image).memberCount);
  if (outcome.kind === 'gone') throw new GroupNotFound(groupId);
}

/**
 * The items a claim of `record` into `group` adds to its transaction (rule G8): the group item (conditioned
 * on its policy and rules as read, and for affinity on the members being on this node or there being none),
 * the node's host item (for anti-affinity conditioned on holding fewer than maxServerPerHost members) and
 * the member item.
 */
export function joinItems(store: Store, group: ServerGroup, record: InstanceRecord): NamedItem[] {
  return joinAll(store, group, [record], (name) => name);
}

/**
 * The same for a gang's members (rule G11), all in one transaction: one group item, a host item per node
 * (conditioned on the members it holds before leaving room for the gang's), a member item per instance.
 * `named` gives each item's name ('group-host' and 'group-member' take a node or an instance suffix in a gang).
 */
export function joinAll(
  store: Store,
  group: ServerGroup,
  records: readonly Pick<InstanceRecord, 'nodeId' | 'instanceUuid'>[],
  named: (name: string, suffix: string) => string,
): NamedItem[] {
  const { groupId } = group;
  const guard = groupGuard(group.policy, group.rules);
  const perNode = new Map<string, number>();
  for (const r of records) perNode.set(r.nodeId, (perNode.get(r.nodeId) ?? 0) + 1);
  const affine = guard.kind === 'one-node';
  const values = { ':p': group.policy, ':r': rulesKey(group.rules), ':k': records.length };
  return [
    {
      name: 'group',
      item: {
        Update: {
          TableName: store.tableName,
          Key: groupKey(groupId),
          UpdateExpression: `${affine ? 'SET hostNode = :n ' : ''}ADD memberCount :k`,
          ConditionExpression: `attribute_exists(pk) AND #p = :p AND rulesKey = :r${affine ? ' AND (attribute_not_exists(hostNode) OR hostNode = :n OR memberCount = :z)' : ''}`,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ExpressionAttributeNames: { '#p': 'policy' },
          ExpressionAttributeValues: affine ? { ...values, ':n': records[0]?.nodeId, ':z': 0 } : values,
        },
      },
    },
    ...[...perNode].map(([nodeId, joining]) => ({
      name: named('group-host', nodeId),
      item: hostJoin(store, groupId, nodeId, joining, guard.kind === 'at-most' ? guard.perNode : undefined),
    })),
    ...records.map(({ nodeId, instanceUuid }): NamedItem => ({
      name: named('group-member', instanceUuid),
      item: {
        Put: {
          TableName: store.tableName,
          Item: { ...memberKey(groupId, instanceUuid), type: 'group-member', groupId, instanceUuid, nodeId },
        },
      },
    })),
  ];
}

/** `joining` members onto the node's host item; with `perNode`, conditioned on leaving them room (anti-affinity). */
export function hostJoin(
  store: Store,
  groupId: string,
  nodeId: string,
  joining: number,
  perNode?: number,
): NamedItem['item'] {
  return {
    Update: {
      TableName: store.tableName,
      Key: groupHostKey(nodeId, groupId),
      UpdateExpression: 'SET #t = :t, groupId = :g, nodeId = :n ADD members :j',
      ...(perNode === undefined ? {} : { ConditionExpression: 'attribute_not_exists(members) OR members <= :room' }),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      ExpressionAttributeNames: { '#t': 'type' },
      ExpressionAttributeValues: {
        ':t': 'group-host',
        ':g': groupId,
        ':n': nodeId,
        ':j': joining,
        ...(perNode === undefined ? {} : { ':room': perNode - joining }),
      },
    },
  };
}

/** The items a release of a member adds to its transaction (rule G9): the counts go down, the member goes. */
export function leaveItems(store: Store, record: InstanceRecord): NamedItem[] {
  const { serverGroup: groupId, nodeId, instanceUuid } = record;
  if (groupId === undefined) return [];
  const down = (Key: Record<string, string>, attribute: string): NamedItem['item'] => ({
    Update: {
      TableName: store.tableName,
      Key,
      UpdateExpression: 'ADD #a :minus',
      ExpressionAttributeNames: { '#a': attribute },
      ExpressionAttributeValues: { ':minus': -1 },
    },
  });
  return [
    { name: 'group', item: down(groupKey(groupId), 'memberCount') },
    { name: 'group-host', item: down(groupHostKey(nodeId, groupId), 'members') },
    { name: 'group-member', item: { Delete: { TableName: store.tableName, Key: memberKey(groupId, instanceUuid) } } },
  ];
}

/** Why a claim's group items failed, once the owner and the instance did not (their outcomes come first). */
export function groupRefusal(reasons: Reasons, group: ServerGroup, nodeId: string): Error | undefined {
  if (failed(reasons, 'group')) {
    const image = reasons.get('group')?.Item;
    if (!image) return new GroupNotFound(group.groupId);
    const now = groupOf(plain(image));
    const policyChanged = now.policy !== group.policy || rulesKey(now.rules) !== rulesKey(group.rules);
    // The policy changed since the read (the group was empty), or the affinity node emptied: read again.
    if (policyChanged || now.memberCount === 0) return new Contended('the server group changed since it was read');
    return new GroupPolicyViolation(violationMessage(group.groupId, now, nodeId));
  }
  if (failed(reasons, 'group-host')) return new GroupPolicyViolation(violationMessage(group.groupId, group, nodeId));
  return undefined;
}

/** A claim's server group as extra items of its transaction; the group is read anew at every attempt. */
export function groupExtra(store: Store, groupId: string): ClaimExtra {
  let group: ServerGroup | undefined;
  return {
    items: async (record) => {
      group = await getServerGroup(store, groupId);
      return joinItems(store, group, record);
    },
    refusal: (reasons, record) => (group ? groupRefusal(reasons, group, record.nodeId) : undefined),
  };
}

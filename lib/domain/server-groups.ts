// Server groups (rules G7-G10): Nova's four policies, and what each asks of the node a member claims on.
// Pure: the store turns a GroupGuard into conditions of the claim's own transaction.

export const POLICIES = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'] as const;
export type Policy = (typeof POLICIES)[number];

export interface GroupRules {
  /** anti-affinity only: how many members one node may hold (Nova's max_server_per_host, 1 by default). */
  maxServerPerHost?: number;
}

export interface ServerGroup {
  groupId: string;
  policy: Policy;
  rules: GroupRules;
  memberCount: number;
  /** affinity: the node the members are on; meaningless once memberCount is 0. */
  hostNode?: string;
}

/** What a hard policy asks of the node a new member claims on; soft policies only weigh (rule G10). */
export type GroupGuard = { kind: 'one-node' } | { kind: 'at-most'; perNode: number } | { kind: 'weigh'; sign: 1 | -1 };

export function groupGuard(policy: Policy, rules: GroupRules): GroupGuard {
  switch (policy) {
    case 'affinity':
      return { kind: 'one-node' };
    case 'anti-affinity':
      return { kind: 'at-most', perNode: rules.maxServerPerHost ?? 1 };
    case 'soft-affinity':
      return { kind: 'weigh', sign: 1 };
    case 'soft-anti-affinity':
      return { kind: 'weigh', sign: -1 };
  }
}

/** What the fleet view knows of a group on one node. */
export interface GroupHere {
  group: Pick<ServerGroup, 'policy' | 'rules' | 'memberCount' | 'hostNode'>;
  /** Members on this node. */
  here: number;
}

/** Whether a hard policy lets one more member onto the node, as far as the (possibly stale) view says. */
export function groupAdmits({ group, here }: GroupHere, nodeId: string): boolean {
  const guard = groupGuard(group.policy, group.rules);
  switch (guard.kind) {
    case 'one-node':
      return group.memberCount === 0 || group.hostNode === undefined || group.hostNode === nodeId;
    case 'at-most':
      return here < guard.perNode;
    case 'weigh':
      return true;
  }
}

/** A soft policy's weight on a node: members there draw (soft-affinity) or push away (soft-anti-affinity). */
export function groupWeight({ group, here }: GroupHere): number {
  const guard = groupGuard(group.policy, group.rules);
  return guard.kind === 'weigh' ? guard.sign * here : 0;
}

/** The refusal's text: it names the policy and the node (rule G8). */
export function violationMessage(
  groupId: string,
  group: Pick<ServerGroup, 'policy' | 'rules' | 'hostNode'>,
  nodeId: string,
): string {
  const guard = groupGuard(group.policy, group.rules);
  switch (guard.kind) {
    case 'one-node':
      return `Server group ${groupId} has policy affinity: its members are on node ${group.hostNode ?? '?'}, not on node ${nodeId}.`;
    case 'at-most':
      return `Server group ${groupId} has policy anti-affinity: node ${nodeId} already holds ${guard.perNode} of its members.`;
    case 'weigh':
      return `Server group ${groupId} refuses no node.`;
  }
}

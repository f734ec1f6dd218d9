import type { ServerGroup } from '../domain';

/** A server group as PUT answers it: its members are listed by GET. */
export const groupView = ({ groupId, policy, rules }: ServerGroup) => ({ groupId, policy, rules });

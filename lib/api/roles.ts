// Who may call what (docs/security.md, rules W1-W6), as data: the three roles the stack ships, what each may do on
// every HTTP route, and how a caller is told from its IAM identity. Pure: http.ts applies it to requests.
import type { HttpOperationId } from '../operations';

export const ROLES = ['agent', 'scheduler', 'operator'] as const;
export type Role = (typeof ROLES)[number];

/** Whom a request comes from. `open` is the local runner's and the tests' mode, never the deployed one (rule W5). */
export type Caller =
  { role: 'open' } | { role: 'agent'; nodeId: string } | { role: 'scheduler' } | { role: 'operator' };

/**
 * What an agent may do on a route (rule W2): on the path's node when it is its own, on a migration whose source or
 * destination is its own node (the migration is read to know), or nothing.
 */
export type AgentScope = 'own-node' | 'own-migration' | 'none';

export interface RouteAccess {
  agent: AgentScope;
  scheduler: boolean;
  operator: boolean;
}

const READ: RouteAccess = { agent: 'own-node', scheduler: true, operator: true };
const AGENT_ONLY: RouteAccess = { agent: 'own-node', scheduler: false, operator: false };
/** Claims: the node's agent or the scheduler (rules W2, W4); the operator only reads and deletes (rule W4). */
const CLAIM: RouteAccess = { agent: 'own-node', scheduler: true, operator: false };
const DELETE_HOLD: RouteAccess = { agent: 'own-node', scheduler: false, operator: true };
const SCHEDULER_READS: RouteAccess = { agent: 'none', scheduler: true, operator: true };
const SCHEDULER_ONLY: RouteAccess = { agent: 'none', scheduler: true, operator: false };

/** Every HTTP route of lib/operations.ts, by its id: a route missing here does not compile (and a test checks). */
export const ROUTE_ACCESS: Readonly<Record<HttpOperationId, RouteAccess>> = {
  listNodes: { agent: 'none', scheduler: true, operator: true },
  putNode: AGENT_ONLY,
  getNode: READ,
  deleteNode: { agent: 'none', scheduler: false, operator: true },
  claimInstance: CLAIM,
  listInstances: READ,
  getInstance: READ,
  updateInstance: AGENT_ONLY,
  releaseInstance: DELETE_HOLD,
  claimMove: CLAIM,
  dropMoveClaim: DELETE_HOLD,
  getMigration: { agent: 'own-migration', scheduler: true, operator: true },
  updateMigrationStatus: { agent: 'own-migration', scheduler: true, operator: false },
  auditNode: AGENT_ONLY,
  // Placement (rule W4): the scheduler's. The operator reads the candidates (POST is a query) and the groups, and
  // may delete a group; no agent chooses nodes or groups.
  getCandidates: SCHEDULER_READS,
  postCandidates: SCHEDULER_READS,
  createPlacement: SCHEDULER_ONLY,
  putServerGroup: SCHEDULER_ONLY,
  getServerGroup: SCHEDULER_READS,
  deleteServerGroup: SCHEDULER_READS,
};

export type Decision =
  | { kind: 'allow' }
  | { kind: 'deny'; reason: string }
  /** Allowed once the migration is known to start or end on `nodeId`. */
  | { kind: 'if-migration-on'; nodeId: string };

const ALLOW: Decision = { kind: 'allow' };
const deny = (reason: string): Decision => ({ kind: 'deny', reason });
const roleMay = (may: boolean, role: Role): Decision =>
  may ? ALLOW : deny(`The ${role} role may not use this route.`);

/** The decision on a route for a caller, from the route's path node (rule W1: deny unless the table allows). */
export function decide(caller: Caller, route: HttpOperationId, pathNodeId: string | undefined): Decision {
  const access = ROUTE_ACCESS[route];
  switch (caller.role) {
    case 'open':
      return ALLOW;
    case 'scheduler':
      return roleMay(access.scheduler, caller.role);
    case 'operator':
      return roleMay(access.operator, caller.role);
    case 'agent':
      return agentDecision(caller.nodeId, access.agent, pathNodeId);
  }
}

function agentDecision(own: string, scope: AgentScope, pathNodeId: string | undefined): Decision {
  switch (scope) {
    case 'none':
      return deny('The agent role may not use this route.');
    case 'own-node':
      return pathNodeId === own
        ? ALLOW
        : deny(`The agent of node ${own} may not act on node ${pathNodeId ?? '(none)'}.`);
    case 'own-migration':
      return { kind: 'if-migration-on', nodeId: own };
  }
}

/** The agent of `nodeId` on a migration: only one that leaves or reaches its node (rule W2). */
export function migrationDecision(nodeId: string, migration: { sourceNodeId: string; destNodeId: string }): Decision {
  return migration.sourceNodeId === nodeId || migration.destNodeId === nodeId
    ? ALLOW
    : deny(
        `The agent of node ${nodeId} may not act on a migration from ${migration.sourceNodeId} to ${migration.destNodeId}.`,
      );
}

/**
 * What a body may carry for its caller (rule W3): `limits` decide how far a node may be overcommitted, which is the
 * scheduler's to say; a node named in the body (a move's source) is a node the agent changes, so it must be its own.
 */
export function bodyDecision(caller: Caller, body: unknown): Decision {
  if (caller.role !== 'agent' || typeof body !== 'object' || body === null) return ALLOW;
  if ('limits' in body) return deny('Only the scheduler role may pass limits; an agent claims without them.');
  if ('sourceNodeId' in body && body.sourceNodeId !== caller.nodeId)
    return deny(`The agent of node ${caller.nodeId} may not move an instance from node ${String(body.sourceNodeId)}.`);
  return ALLOW;
}

/** The IAM role name of each role: what the stack names them (infra/roles.ts), the same names locally. */
export function roleNames(env: NodeJS.ProcessEnv = process.env): Readonly<Record<Role, string>> {
  return {
    agent: env.AGENT_ROLE_NAME || 'capacity-tracker-local-agent',
    scheduler: env.SCHEDULER_ROLE_NAME || 'capacity-tracker-local-scheduler',
    operator: env.OPERATOR_ROLE_NAME || 'capacity-tracker-local-operator',
  };
}

/** arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION, as API Gateway's IAM authorizer reports an assumed role. */
const ASSUMED_ROLE = /^arn:aws[\w-]*:sts::\d{12}:assumed-role\/([\w+=,.@-]+)\/([\w+=,.@-]+)$/;

/**
 * The caller an IAM identity is (rule W5): one of the stack's roles, by the role's name; an agent's node is its
 * session name, which the agent role's trust policy makes equal to the node tag of whoever assumed it.
 * Anything else (an IAM user, another role, no identity) is no caller at all.
 */
export function callerOfArn(userArn: string | undefined, names = roleNames()): Caller | undefined {
  const [, roleName, session] = ASSUMED_ROLE.exec(userArn ?? '') ?? [];
  if (roleName === undefined || session === undefined) return undefined;
  if (roleName === names.agent) return { role: 'agent', nodeId: session };
  if (roleName === names.scheduler) return { role: 'scheduler' };
  if (roleName === names.operator) return { role: 'operator' };
  return undefined;
}

/** True only where the setting says so explicitly (the local runner, the tests); the deployed stack never sets it. */
export const isOpen = (env: NodeJS.ProcessEnv = process.env) => env.AUTH === 'open';

// The three roles callers of the service take (docs/security.md, rules W1-W6): IAM lets each invoke only the routes
// lib/api/roles.ts allows it, the agent only on the node its session is tagged with, and only the service's own roles
// and the scheduler may queue a status. The handlers check the same again (lib/api/http.ts): defence in depth.
import { CfnOutput, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AccountPrincipal,
  AnyPrincipal,
  Effect,
  PolicyStatement,
  Role,
  type IPrincipal,
  type IRole,
} from 'aws-cdk-lib/aws-iam';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ROLES, ROUTE_ACCESS, type Role as CallerRole } from '../lib/api/roles';
import { ROUTES } from '../lib/operations';
import { arnFinding } from './nag';

/** The tag that names a principal's node: on an agent host's own IAM role (or user), and on its agent sessions. */
export const NODE_TAG = 'capacity-tracker-node';
const NODE_TAG_VALUE = `\${aws:PrincipalTag/${NODE_TAG}}`;
/** The API's one stage (infra/http-api.ts). */
const STAGE = '$default';

/** Fixed, so that hosts and the scheduler can name the role they assume; one set per stage. */
export const callerRoleName = (stageName: string, role: CallerRole) => `capacity-tracker-${stageName}-${role}`;

/** What tells the handlers the roles' names (roleNames in lib/api/roles.ts). */
export function callerRoleEnvironment(stageName: string): Record<string, string> {
  return {
    AGENT_ROLE_NAME: callerRoleName(stageName, 'agent'),
    SCHEDULER_ROLE_NAME: callerRoleName(stageName, 'scheduler'),
    OPERATOR_ROLE_NAME: callerRoleName(stageName, 'operator'),
  };
}

/** The routes a role may invoke, as execute-api resource paths: `METHOD/path`, path parameters as `*`. */
export function invokePaths(role: CallerRole): string[] {
  return ROUTES.flatMap(({ id, method, path }) => {
    const access = ROUTE_ACCESS[id];
    const with_ = (nodeId: string) =>
      `${method}${path.replace(/\{(\w+)\}/g, (_, p: string) => (p === 'nodeId' ? nodeId : '*'))}`;
    switch (role) {
      case 'scheduler':
      case 'operator':
        return access[role] ? [with_('*')] : [];
      case 'agent':
        switch (access.agent) {
          case 'own-node':
            return [with_(NODE_TAG_VALUE)];
          // IAM cannot tell a migration's nodes from its id: the handler reads the migration and checks them.
          case 'own-migration':
            return [with_('*')];
          case 'none':
            return [];
        }
    }
  });
}

const DESCRIPTIONS: Record<CallerRole, string> = {
  agent:
    `A compute node's agent: registers, audits and changes records on its own node only. Assume it with the ` +
    `session name and the session tag ${NODE_TAG} both equal to your own ${NODE_TAG} tag.`,
  scheduler:
    'The scheduler: claims and moves on any node, may pass limits, sends migration statuses, reads everything.',
  operator: 'An operator: reads everything and deletes (nodes, instances, move claims).',
};

export interface CallerRolesProps {
  api: HttpApi;
  stageName: string;
}

export class CallerRoles extends Construct {
  readonly roles: Readonly<Record<CallerRole, Role>>;
  readonly arnOutputs: Partial<Record<CallerRole, CfnOutput>> = {};

  constructor(scope: Construct, id: string, props: CallerRolesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const account = new AccountPrincipal(stack.account);
    const make = (role: CallerRole, assumedBy: IPrincipal): Role =>
      new Role(this, role, {
        roleName: callerRoleName(props.stageName, role),
        assumedBy,
        description: DESCRIPTIONS[role],
      });
    const agent = make(
      'agent',
      // The session is named after the assumer's node: that name is what the handlers bind the agent to (rule W5).
      account.withConditions({ StringEquals: { 'sts:RoleSessionName': NODE_TAG_VALUE } }),
    );
    // And tagged with the same node, which the agent's invoke policy names in its paths.
    agent.assumeRolePolicy?.addStatements(
      new PolicyStatement({
        actions: ['sts:TagSession'],
        principals: [account],
        conditions: {
          StringEquals: { [`aws:RequestTag/${NODE_TAG}`]: NODE_TAG_VALUE },
          'ForAllValues:StringEquals': { 'aws:TagKeys': [NODE_TAG] },
        },
      }),
    );
    this.roles = { agent, scheduler: make('scheduler', account), operator: make('operator', account) };

    const apiId = stack.getLogicalId(props.api.node.defaultChild as CfnElement);
    for (const role of ROLES) {
      const paths = invokePaths(role);
      this.roles[role].addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['execute-api:Invoke'],
          resources: paths.map((p) => props.api.arnForExecuteApi(p.split('/')[0], p.slice(p.indexOf('/')), STAGE)),
          // An agent session without its node tag reaches nothing, not even the migration routes.
          ...(role === 'agent' ? { conditions: { Null: { [`aws:PrincipalTag/${NODE_TAG}`]: 'false' } } } : {}),
        }),
      );
      // cdk-nag shows a policy variable as <variable>.
      for (const path of paths.filter((p) => p.includes('*')))
        Validations.of(this.roles[role]).acknowledge({
          id: `AwsSolutions-IAM5[${arnFinding(stack, 'execute-api', `<${apiId}>/${STAGE}/${path.replace(/\$\{([^}]+)\}/g, '<$1>')}`)}]`,
          reason:
            'Path parameters (instance, migration, and for the scheduler and operator node ids) are chosen at run ' +
            'time; the role reaches only these routes of this one API, and the handler checks the caller again.',
        });
      this.arnOutputs[role] = new CfnOutput(stack, `${role[0]?.toUpperCase()}${role.slice(1)}RoleArn`, {
        value: this.roles[role].roleArn,
        description: DESCRIPTIONS[role],
      });
    }
  }
}

/**
 * Only `senders` may queue a migration status (rule W6): a message carries no caller the consumer could check, so
 * the queue's policy is the guard. Everyone else is denied SendMessage, whatever their own policies grant.
 */
export function restrictQueueSenders(queue: Queue, senders: IRole[]): void {
  queue.addToResourcePolicy(
    new PolicyStatement({
      sid: 'OnlyTheServiceAndTheSchedulerSend',
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: ['sqs:SendMessage'],
      resources: [queue.queueArn],
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': senders.map((r) => r.roleArn) } },
    }),
  );
}

// The roles callers take, in IAM (rules W2-W6): the three roles, each allowed exactly its routes, the agent only on
// the node of its session tag and only in a session named after that node; the status queue denies every other sender.
import type { Template } from 'aws-cdk-lib/assertions';
import { ROLES, ROUTE_ACCESS } from '../../lib/api/roles';
import { ROUTES } from '../../lib/operations';
import { callerRoleName, invokePaths, NODE_TAG } from '../../infra/roles';
import { synthesize, type Synthesized } from './synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

let synthesized: Synthesized;
let t: Template;
beforeAll(() => {
  // No bundles: the roles do not depend on them (test/infra/service-stack.test.ts builds them).
  synthesized = synthesize({ stage: 'dev', 'aws:cdk:bundling-stacks': [] });
  t = synthesized.template('CapacityTracker-dev');
});
afterAll(() => synthesized?.cleanup());

const TAG_VALUE = `\${aws:PrincipalTag/${NODE_TAG}}`;
const escape = (text: string) => text.replace(/[$(){}[\]\\/.*+?^|]/g, '\\$&');
const resourcesOf = (type: string) => Object.entries(t.findResources(type)) as [string, Loose][];
const pathOf = (r: Loose) => String(r.Metadata?.['aws:cdk:path'] ?? '');

function role(name: string): [string, Loose] {
  const found = resourcesOf('AWS::IAM::Role').find(([, r]) => r.Properties.RoleName === name);
  if (!found) throw new Error(`no role ${name}`);
  return found;
}
function statementsOf(logicalId: string): Loose[] {
  return resourcesOf('AWS::IAM::Policy')
    .filter(([, r]) => r.Properties.Roles.some((ref: Loose) => ref.Ref === logicalId))
    .flatMap(([, r]) => r.Properties.PolicyDocument.Statement);
}
/** `METHOD/path` of an execute-api ARN as the template joins it. */
function invokePath(arn: Loose): string {
  const parts: unknown[] = arn['Fn::Join'][1];
  return String(parts[parts.length - 1]).replace(/^\/\$default\//, '');
}

describe('the three roles', () => {
  test.each([...ROLES])('%s: named for the stage, its ARN a stack output', (r) => {
    const [logicalId] = role(callerRoleName('dev', r));
    const output = Object.values(t.toJSON().Outputs as Loose).find((o) => o.Value?.['Fn::GetAtt']?.[0] === logicalId);
    expect(output).toBeDefined();
  });

  test.each([...ROLES])('%s: may invoke exactly the routes lib/api/roles.ts allows it', (r) => {
    const [logicalId] = role(callerRoleName('dev', r));
    const invoke = statementsOf(logicalId).filter((s) => s.Action === 'execute-api:Invoke');
    expect(invoke).toHaveLength(1);
    expect(invoke[0]!.Resource.map(invokePath).sort()).toEqual(invokePaths(r).sort());
  });

  test('the operator invokes GETs, DELETEs and the candidates query only; the scheduler PUTs and DELETEs server groups only', () => {
    expect(invokePaths('operator').every((p) => /^(GET|DELETE)\//.test(p) || p === 'POST/candidates')).toBe(true);
    expect(invokePaths('operator').filter((p) => p.startsWith('DELETE/'))).toHaveLength(
      ROUTES.filter((r) => r.method === 'DELETE').length,
    );
    expect(invokePaths('scheduler').filter((p) => /^(PUT|PATCH|DELETE)\//.test(p))).toEqual([
      'PUT/server-groups/*',
      'DELETE/server-groups/*',
    ]);
  });

  test("the agent: every node path is its session tag's node, and a session without the tag reaches nothing", () => {
    const [logicalId] = role(callerRoleName('dev', 'agent'));
    const [invoke] = statementsOf(logicalId).filter((s) => s.Action === 'execute-api:Invoke');
    const paths: string[] = invoke!.Resource.map(invokePath);
    const onNodes = paths.filter((p) => p.split('/')[1] === 'nodes');
    expect(onNodes.length).toBe(ROUTES.filter((r) => ROUTE_ACCESS[r.id].agent === 'own-node').length);
    for (const p of onNodes) expect(p).toMatch(new RegExp(`^[A-Z]+/nodes/${escape(TAG_VALUE)}(/|$)`));
    expect(paths.filter((p) => p.split('/')[1] !== 'nodes').sort()).toEqual([
      'GET/migrations/*',
      'POST/migrations/*/status',
    ]);
    expect(invoke!.Condition).toEqual({ Null: { [`aws:PrincipalTag/${NODE_TAG}`]: 'false' } });
  });

  test("the agent's trust policy: the session is named after the assumer's node tag and tagged with it alone", () => {
    const [, agent] = role(callerRoleName('dev', 'agent'));
    const trust: Loose[] = agent.Properties.AssumeRolePolicyDocument.Statement;
    expect(trust.map((s) => s.Action).sort()).toEqual(['sts:AssumeRole', 'sts:TagSession']);
    const assume = trust.find((s) => s.Action === 'sts:AssumeRole')!;
    expect(assume.Condition).toEqual({ StringEquals: { 'sts:RoleSessionName': TAG_VALUE } });
    const tag = trust.find((s) => s.Action === 'sts:TagSession')!;
    expect(tag.Condition).toEqual({
      StringEquals: { [`aws:RequestTag/${NODE_TAG}`]: TAG_VALUE },
      'ForAllValues:StringEquals': { 'aws:TagKeys': [NODE_TAG] },
    });
    for (const s of trust) expect(JSON.stringify(s.Principal)).toContain(':root');
  });
});

describe('the handlers', () => {
  test('know the role names and enforce: no function runs open', () => {
    for (const [, fn] of resourcesOf('AWS::Lambda::Function').filter(([, r]) => pathOf(r).includes('/Functions/'))) {
      const env = fn.Properties.Environment.Variables;
      expect(env).toMatchObject({
        AGENT_ROLE_NAME: callerRoleName('dev', 'agent'),
        SCHEDULER_ROLE_NAME: callerRoleName('dev', 'scheduler'),
        OPERATOR_ROLE_NAME: callerRoleName('dev', 'operator'),
      });
      expect(env.AUTH).toBeUndefined();
    }
  });
});

describe('the status queue', () => {
  const queuePolicy = () => {
    const [entry] = resourcesOf('AWS::SQS::QueuePolicy').filter(([, r]) =>
      pathOf(r).includes('/MigrationStatus/Queue/'),
    );
    return entry![1].Properties.PolicyDocument.Statement as Loose[];
  };

  test('denies SendMessage to every principal but the Lambdas of the service and the scheduler', () => {
    const deny = queuePolicy().find((s) => s.Effect === 'Deny' && s.Action === 'sqs:SendMessage')!;
    expect(deny.Principal).toEqual({ AWS: '*' });
    const allowed: string[] = deny.Condition.ArnNotEquals['aws:PrincipalArn'].map((a: Loose) => a['Fn::GetAtt'][0]);
    const [scheduler] = role(callerRoleName('dev', 'scheduler'));
    const lambdaRoles = resourcesOf('AWS::Lambda::Function')
      .filter(([, r]) => pathOf(r).includes('/Functions/'))
      .map(([, r]) => r.Properties.Role['Fn::GetAtt'][0]);
    expect(allowed.sort()).toEqual([...lambdaRoles, scheduler].sort());
    for (const r of ['agent', 'operator'] as const) expect(allowed).not.toContain(role(callerRoleName('dev', r))[0]);
  });

  test('the scheduler may send to it', () => {
    const [scheduler] = role(callerRoleName('dev', 'scheduler'));
    const send = statementsOf(scheduler).find((s) => [s.Action].flat().includes('sqs:SendMessage'));
    expect(send?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^MigrationStatusQueue/), 'Arn'] });
  });
});

test('cdk-nag finds nothing unacknowledged', () => {
  expect(synthesized.findings).toEqual([]);
});

// The pipeline stack's template: source from the repository connection, the synth step running the
// README's commands, dev deployed then smoke-tested through its API, a manual approval before prod; and
// which stacks the app makes from its context. Bundling is skipped here: the service test builds the bundles.
import { App } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { buildCapacityApp } from '../../infra/capacity-app';
import { NODE_TAG } from '../../infra/roles';
import { SMOKE_TEST_NODE, smokeTestRoleName, smokeTestRunnerRoleName } from '../../infra/service-stack';
import { synthesize, type Synthesized } from './synth';

const SOURCE = {
  repository: 'acme/capacity-tracker',
  branch: 'release',
  connectionArn: 'arn:aws:codeconnections:eu-west-1:123456789012:connection/0f1e2d3c',
};
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

let s: Synthesized;
let t: Template;
beforeAll(() => {
  s = synthesize({ ...NO_BUNDLING, ...SOURCE });
  t = s.template('CapacityTrackerPipeline');
});
afterAll(() => s?.cleanup());

type Stage = {
  Name: string;
  Actions: {
    Name: string;
    RunOrder?: number;
    ActionTypeId: { Category: string; Provider: string };
    Configuration?: Record<string, unknown>;
  }[];
};
const stages = (): Stage[] =>
  (Object.values(t.findResources('AWS::CodePipeline::Pipeline'))[0] as { Properties: { Stages: Stage[] } }).Properties
    .Stages;
const stage = (name: string) => stages().find((x) => x.Name === name)!;
/** The buildspec of the CodeBuild project whose name (logical id) contains `id`. */
function buildSpec(id: string): string {
  const projects = Object.entries(t.findResources('AWS::CodeBuild::Project')).filter(([logicalId]) =>
    logicalId.includes(id),
  );
  expect(projects).toHaveLength(1);
  return String((projects[0]![1] as { Properties: { Source: { BuildSpec: string } } }).Properties.Source.BuildSpec);
}

test('source, build, self-update, assets, dev, prod: in that order', () => {
  expect(stages().map((x) => x.Name)).toEqual(['Source', 'Build', 'UpdatePipeline', 'Assets', 'Dev', 'Prod']);
  t.hasResourceProperties('AWS::CodePipeline::Pipeline', { PipelineType: 'V2' });
});

test('the source is the repository connection given as context', () => {
  const [action] = stage('Source').Actions;
  expect(action?.ActionTypeId).toMatchObject({ Category: 'Source', Provider: 'CodeStarSourceConnection' });
  expect(action?.Configuration).toMatchObject({
    ConnectionArn: SOURCE.connectionArn,
    FullRepositoryId: SOURCE.repository,
    BranchName: SOURCE.branch,
  });
});

test("the synth step runs the README's install and test commands, then cdk synth with the same context, on an image with Java 17", () => {
  const spec = buildSpec('Synth');
  const order = [
    'npm install',
    'npm test',
    `npx cdk synth --quiet -c repository=${SOURCE.repository} -c branch=${SOURCE.branch} -c connectionArn=${SOURCE.connectionArn}`,
  ].map((c) => spec.indexOf(c));
  expect(order.every((i) => i >= 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  expect(spec).toContain('corretto17');
  t.hasResourceProperties('AWS::CodeBuild::Project', {
    Environment: Match.objectLike({ Image: 'aws/codebuild/standard:7.0' }),
  });
});

test('dev is deployed, then smoke-tested with the API URL from its outputs', () => {
  const dev = stage('Dev').Actions;
  const deploy = dev.filter((a) => a.ActionTypeId.Provider === 'CloudFormation');
  const smoke = dev.find((a) => a.Name === 'SmokeTest');
  expect(deploy.length).toBeGreaterThan(0);
  expect(smoke?.RunOrder).toBeGreaterThan(Math.max(...deploy.map((a) => a.RunOrder ?? 1)));
  const env = JSON.parse(String(smoke?.Configuration?.EnvironmentVariables)) as { name: string; value: string }[];
  expect(env.map((e) => e.name).sort()).toEqual([
    'AGENT_ROLE_ARN',
    'API_URL',
    'OPERATOR_ROLE_ARN',
    'SMOKE_TEST_ROLE_ARN',
  ]);
  const spec = buildSpec('SmokeTest');
  expect(spec).toContain('npx tsx scripts/smoke.ts');
  // The agent's session is named and tagged after the smoke node (docs/security.md, rule W5).
  const commands = (JSON.parse(spec) as { phases: { build: { commands: string[] } } }).phases.build.commands;
  expect(commands).toContain(
    `AGENT=$(assume "$AGENT_ROLE_ARN" "$SMOKE_NODE_ID" "Key=${NODE_TAG},Value=$SMOKE_NODE_ID")`,
  );
  t.hasResourceProperties('AWS::CodeBuild::Project', {
    Environment: Match.objectLike({
      EnvironmentVariables: Match.arrayWith([Match.objectLike({ Name: 'SMOKE_NODE_ID', Value: SMOKE_TEST_NODE })]),
    }),
  });
});

test("the smoke test may only assume the dev stage's invoker role, which may only take the smoke node's agent role and the operator role", () => {
  t.hasResourceProperties('AWS::IAM::Policy', {
    PolicyDocument: {
      Statement: Match.arrayWith([
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Resource: {
            'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(`:role/${smokeTestRoleName('dev')}$`)])],
          },
        },
      ]),
    },
  });
  const dev = s.template('CapacityTrackerPipeline/Dev/CapacityTracker');
  dev.hasResourceProperties('AWS::IAM::Role', {
    RoleName: smokeTestRoleName('dev'),
    Tags: [{ Key: NODE_TAG, Value: SMOKE_TEST_NODE }],
  });
  dev.hasResourceProperties('AWS::IAM::Policy', {
    PolicyDocument: {
      Statement: [
        {
          Action: ['sts:AssumeRole', 'sts:TagSession'],
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Callersagent'), 'Arn'] },
        },
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Callersoperator'), 'Arn'] },
        },
      ],
    },
  });
  dev.hasOutput('ApiUrl', {});
  s.template('CapacityTrackerPipeline/Prod/CapacityTracker').resourcePropertiesCountIs(
    'AWS::IAM::Role',
    { RoleName: smokeTestRoleName('prod') },
    0,
  );
});

test('prod waits for a manual approval, then deploys a retained, protected table', () => {
  const prod = stage('Prod').Actions;
  const approval = prod.find((a) => a.ActionTypeId.Category === 'Approval');
  expect(approval?.Name).toBe('PromoteToProd');
  const deploys = prod.filter((a) => a.ActionTypeId.Provider === 'CloudFormation');
  expect(Math.min(...deploys.map((a) => a.RunOrder ?? 1))).toBeGreaterThan(approval?.RunOrder ?? 1);
  s.template('CapacityTrackerPipeline/Prod/CapacityTracker').hasResource('AWS::DynamoDB::GlobalTable', {
    DeletionPolicy: 'Retain',
  });
});

test("artifacts are encrypted with a rotated key of the pipeline's own, and CodeBuild uses it", () => {
  t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  for (const project of Object.values(t.findResources('AWS::CodeBuild::Project')) as {
    Properties: { EncryptionKey?: unknown };
  }[]) {
    expect(project.Properties.EncryptionKey).toBeDefined();
  }
});

test('cdk-nag AwsSolutions: no finding left unacknowledged in the pipeline or its stages', () => {
  expect(s.findings).toEqual([]);
});

test('cdk-nag, again with the account and region known (as `cdk deploy` with credentials synthesizes): still no finding', () => {
  const saved = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  Object.assign(process.env, { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' });
  try {
    const concrete = synthesize({ ...NO_BUNDLING, ...SOURCE });
    concrete.cleanup();
    expect(concrete.findings).toEqual([]);
  } finally {
    for (const [key, value] of [
      ['CDK_DEFAULT_ACCOUNT', saved.account],
      ['CDK_DEFAULT_REGION', saved.region],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
});

describe('the app, from its context', () => {
  const stacksOf = (context: Record<string, unknown>) => {
    const app = new App({ context: { ...NO_BUNDLING, ...context } });
    buildCapacityApp(app);
    return app.node.children.map((c) => c.node.id).filter((id) => id !== 'Tree');
  };
  test('without a repository connection: the service stack of the stage, dev by default', () => {
    expect(stacksOf({})).toEqual(['CapacityTracker-dev']);
    expect(stacksOf({ stage: 'prod' })).toEqual(['CapacityTracker-prod']);
  });
  test('with one: the pipeline alone', () => {
    expect(stacksOf(SOURCE)).toEqual(['CapacityTrackerPipeline']);
  });
  test('a repository without a connection, or a bad stage name, is refused', () => {
    expect(() => stacksOf({ repository: SOURCE.repository })).toThrow(/connectionArn/);
    expect(() => stacksOf({ stage: 'Prod!' })).toThrow(/stage/);
  });
});

test("the dev stage's invoker role trusts only the smoke test's own CodeBuild role, not the whole account", () => {
  t.hasResourceProperties('AWS::IAM::Role', {
    RoleName: smokeTestRunnerRoleName,
    AssumeRolePolicyDocument: {
      Statement: [Match.objectLike({ Principal: { Service: 'codebuild.amazonaws.com' } })],
    },
  });
  const runnerArn = Match.objectLike({
    'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(`:role/${smokeTestRunnerRoleName}$`)])],
  });
  const projects = Object.values(t.findResources('AWS::CodeBuild::Project')) as {
    Properties: { ServiceRole: unknown };
  }[];
  const runnerLogicalId = Object.keys(
    t.findResources('AWS::IAM::Role', { Properties: { RoleName: smokeTestRunnerRoleName } }),
  )[0];
  expect(projects.some((p) => JSON.stringify(p.Properties.ServiceRole).includes(String(runnerLogicalId)))).toBe(true);
  const dev = s.template('CapacityTrackerPipeline/Dev/CapacityTracker');
  dev.hasResourceProperties('AWS::IAM::Role', {
    RoleName: smokeTestRoleName('dev'),
    AssumeRolePolicyDocument: {
      Statement: [
        Match.objectLike({ Action: 'sts:AssumeRole', Condition: { ArnEquals: { 'aws:PrincipalArn': runnerArn } } }),
      ],
    },
  });
});

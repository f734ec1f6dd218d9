// The deployment pipeline: source from a repository connection; synth runs the README's install and
// test commands and `cdk synth`; dev is deployed and smoke-tested through its API; prod waits for a
// person's approval.
import { Aws, Stack, type StackProps } from 'aws-cdk-lib';
import { BuildSpec, LinuxBuildImage } from 'aws-cdk-lib/aws-codebuild';
import { PipelineType } from 'aws-cdk-lib/aws-codepipeline';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CodeBuildStep, CodePipeline, CodePipelineSource, ManualApprovalStep, ShellStep } from 'aws-cdk-lib/pipelines';
import type { Construct } from 'constructs';
import { stageConfig, type PipelineSourceConfig } from './config';
import { acknowledgePipelineFindings } from './pipeline-nag';
import { NODE_TAG } from './roles';
import { SMOKE_TEST_NODE, smokeTestRoleName, smokeTestRunnerRoleName } from './service-stack';
import { ServiceStage } from './service-stage';

export interface PipelineStackProps extends StackProps {
  source: PipelineSourceConfig;
}

/** The context the pipeline's own synth needs to make this very stack again (self-mutation). */
const contextArgs = ({ repository, branch, connectionArn }: PipelineSourceConfig) =>
  `-c repository=${repository} -c branch=${branch} -c connectionArn=${connectionArn}`;

// standard:7.0 has Java 17 (DynamoDB Local, for the tests) and Node 20.
const RUNTIMES = { phases: { install: { 'runtime-versions': { nodejs: '20', java: 'corretto17' } } } };

export class PipelineStack extends Stack {
  readonly pipeline: CodePipeline;
  readonly dev: ServiceStage;
  readonly prod: ServiceStage;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const source = CodePipelineSource.connection(props.source.repository, props.source.branch, {
      connectionArn: props.source.connectionArn,
    });
    this.pipeline = new CodePipeline(this, 'Pipeline', {
      pipelineType: PipelineType.V2,
      // A customer managed key (rotated) for the artifact bucket, which every CodeBuild project then uses too.
      crossAccountKeys: true,
      enableKeyRotation: true,
      // One CodeBuild project publishes all 16 bundles, instead of one project each.
      publishAssetsInParallel: false,
      synth: new ShellStep('Synth', {
        input: source,
        commands: ['npm install', 'npm test', `npx cdk synth --quiet ${contextArgs(props.source)}`],
        primaryOutputDirectory: 'cdk.out',
      }),
      codeBuildDefaults: {
        buildEnvironment: { buildImage: LinuxBuildImage.STANDARD_7_0 },
        partialBuildSpec: BuildSpec.fromObject(RUNTIMES),
      },
    });

    this.dev = new ServiceStage(this, 'Dev', { stage: stageConfig('dev'), smokeTestAccount: this.account });
    const smokeRole = `arn:${Aws.PARTITION}:iam::${this.account}:role/${smokeTestRoleName('dev')}`;
    const smokeRoleArn = this.dev.service.smokeTestRoleArn;
    const { agent, operator } = this.dev.service.callerRoleArns;
    if (!smokeRoleArn || !agent || !operator) throw new Error('the dev stage has no smoke test or caller roles');
    // Named, so that the dev stage's invoker role can trust this role alone (not every principal of the account).
    const runner = new Role(this, 'SmokeTestRunner', {
      roleName: smokeTestRunnerRoleName,
      assumedBy: new ServicePrincipal('codebuild.amazonaws.com'),
      description: "The pipeline's smoke test: may assume the dev stage's API invoker role, and run its build.",
    });
    const smokeTest = new CodeBuildStep('SmokeTest', {
      input: source,
      role: runner,
      installCommands: ['npm install'],
      envFromCfnOutputs: {
        API_URL: this.dev.service.apiUrl,
        SMOKE_TEST_ROLE_ARN: smokeRoleArn,
        AGENT_ROLE_ARN: agent,
        OPERATOR_ROLE_ARN: operator,
      },
      env: { SMOKE_NODE_ID: SMOKE_TEST_NODE },
      commands: [
        // The dev API's invoker role, and from it the two roles the smoke test calls as (docs/security.md): the
        // agent of its node, whose session is named and tagged after the node, and an operator, who deletes.
        `assume() { aws sts assume-role --role-arn "$1" --role-session-name "$2" \${3:+--tags "$3"} --query "Credentials.[AccessKeyId,SecretAccessKey,SessionToken]" --output text; }`,
        'CREDS=$(assume "$SMOKE_TEST_ROLE_ARN" smoke-test)',
        'export AWS_ACCESS_KEY_ID=$(echo "$CREDS" | cut -f1) AWS_SECRET_ACCESS_KEY=$(echo "$CREDS" | cut -f2) AWS_SESSION_TOKEN=$(echo "$CREDS" | cut -f3)',
        'OP=$(assume "$OPERATOR_ROLE_ARN" smoke-test)',
        `AGENT=$(assume "$AGENT_ROLE_ARN" "$SMOKE_NODE_ID" "Key=${NODE_TAG},Value=$SMOKE_NODE_ID")`,
        'export OPERATOR_AWS_ACCESS_KEY_ID=$(echo "$OP" | cut -f1) OPERATOR_AWS_SECRET_ACCESS_KEY=$(echo "$OP" | cut -f2) OPERATOR_AWS_SESSION_TOKEN=$(echo "$OP" | cut -f3)',
        'export AWS_ACCESS_KEY_ID=$(echo "$AGENT" | cut -f1) AWS_SECRET_ACCESS_KEY=$(echo "$AGENT" | cut -f2) AWS_SESSION_TOKEN=$(echo "$AGENT" | cut -f3)',
        'npx tsx scripts/smoke.ts',
      ],
      rolePolicyStatements: [new PolicyStatement({ actions: ['sts:AssumeRole'], resources: [smokeRole] })],
    });
    this.pipeline.addStage(this.dev, { post: [smokeTest] });

    this.prod = new ServiceStage(this, 'Prod', { stage: stageConfig('prod') });
    this.pipeline.addStage(this.prod, {
      pre: [
        new ManualApprovalStep('PromoteToProd', {
          comment: 'dev is deployed and its smoke test passed: deploy to prod?',
        }),
      ],
    });

    // The pipeline's resources exist only once buildPipeline() has run; acknowledge their findings then.
    this.pipeline.buildPipeline();
    acknowledgePipelineFindings(this.pipeline, smokeTest);
  }
}

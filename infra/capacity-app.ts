// The app's stacks, made from CDK context: the service of one stage (`-c stage=prod`, default dev), or,
// given a repository connection, the pipeline that deploys dev and then prod. cdk-nag's AwsSolutions
// checks run on every synth, so an unacknowledged finding fails `cdk synth` as it fails the tests.
import { Validations, type App, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { pipelineSourceFromContext, stageConfig } from './config';
import { PipelineStack } from './pipeline-stack';
import { ServiceStack } from './service-stack';

export const serviceStackId = (stageName: string) => `CapacityTracker-${stageName}`;
export const PIPELINE_STACK_ID = 'CapacityTrackerPipeline';

export function buildCapacityApp(app: App): { service?: ServiceStack; pipeline?: PipelineStack } {
  // Unresolved (env-agnostic) unless the CLI knows an account, so that synth needs no credentials.
  const env: Environment = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const source = pipelineSourceFromContext(app.node);
  if (source) return { pipeline: new PipelineStack(app, PIPELINE_STACK_ID, { env, source }) };
  const stageName = String(app.node.tryGetContext('stage') ?? 'dev');
  return { service: new ServiceStack(app, serviceStackId(stageName), { env, stage: stageConfig(stageName) }) };
}

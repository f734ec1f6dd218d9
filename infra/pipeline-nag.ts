// cdk-nag findings on what aws-cdk-lib/pipelines makes for us, acknowledged one finding on one role at a
// time. Each wildcard below is CDK's own grant, scoped to this pipeline's bucket, key, projects or the
// CDK bootstrap roles; none reaches the service's data.
import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Role, type IRole } from 'aws-cdk-lib/aws-iam';
import type { CodeBuildStep, CodePipeline } from 'aws-cdk-lib/pipelines';
import type { IConstruct } from 'constructs';
import { accountInFinding, arnFinding } from './nag';

type Grant = [finding: string, reason: string];

const ARTIFACTS_READ = 'CDK read grant (s3:Get*/List* families) on the pipeline artifact bucket only.';
const ARTIFACTS_WRITE = 'CDK write grant (s3:DeleteObject*/Abort* families) on the pipeline artifact bucket only.';
const ARTIFACT_KEY = 'CDK grant on the artifact bucket key only: the key action families SSE-KMS uploads need.';

export function acknowledgePipelineFindings(pipeline: CodePipeline, smokeTest: CodeBuildStep): void {
  const stack = Stack.of(pipeline);
  const logicalId = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
  const arn = (service: string, resource: string) => arnFinding(stack, service, resource);
  const bucket = `Resource::<${logicalId(pipeline.pipeline.artifactBucket)}.Arn>/*`;
  const read: Grant[] = [
    ['Action::s3:GetBucket*', ARTIFACTS_READ],
    ['Action::s3:GetObject*', ARTIFACTS_READ],
    ['Action::s3:List*', ARTIFACTS_READ],
    [bucket, 'Objects of the pipeline artifact bucket: artifact keys are named per execution.'],
  ];
  const readWrite: Grant[] = [
    ...read,
    ['Action::s3:DeleteObject*', ARTIFACTS_WRITE],
    ['Action::s3:Abort*', ARTIFACTS_WRITE],
  ];
  const key: Grant[] = [
    ['Action::kms:GenerateDataKey*', ARTIFACT_KEY],
    ['Action::kms:ReEncrypt*', ARTIFACT_KEY],
  ];
  const project = (p: IConstruct): Grant[] => {
    const id = logicalId(p);
    return [
      [
        arn('logs', `log-group:/aws/codebuild/<${id}>:*`),
        "Log streams of this CodeBuild project's own log group, named per build.",
      ],
      [arn('codebuild', `report-group/<${id}>-*`), 'Test report groups of this CodeBuild project only.'],
    ];
  };

  const sourceRole = pipeline.pipeline.node
    .findAll()
    .find((c): c is Role => c instanceof Role && c.node.path.includes('/Source/'));
  const fileRole = pipeline.node.tryFindChild('Assets')?.node.tryFindChild('FileRole');
  if (!sourceRole || !fileRole)
    throw new Error('pipeline roles not found: did aws-cdk-lib/pipelines change its construct tree?');
  const selfMutation = pipeline.selfMutationProject;
  const acknowledged: [IConstruct | IRole | undefined, Grant[]][] = [
    [pipeline.pipeline.role, [...readWrite, ...key]],
    [sourceRole, [...readWrite, ...key]],
    [pipeline.synthProject.role, [...readWrite, ...key, ...project(pipeline.synthProject)]],
    [smokeTest.project.role, [...read, ...key, ...project(smokeTest.project)]],
    [
      selfMutation.role,
      [
        ...read,
        ...key,
        ...project(selfMutation),
        [
          'Resource::*',
          'cloudformation:DescribeStacks and s3:ListBucket on whichever stacks and asset buckets the app has: CDK self-mutation.',
        ],
        [
          `Resource::arn:*:iam::${accountInFinding(stack)}:role/*`,
          'Assumes only roles tagged as CDK bootstrap roles (iam:ResourceTag condition) to deploy the pipeline itself.',
        ],
      ],
    ],
    [
      fileRole,
      [
        ...read,
        ['Resource::*', 'codebuild:StartBuild/BatchGetBuilds/StopBuild as CDK grants the asset publishing role.'],
        [
          arn('logs', 'log-group:/aws/codebuild/*'),
          'CodeBuild log groups of the asset publishing project, whose name CDK does not pass to the role.',
        ],
        [
          arn('codebuild', 'report-group/*'),
          'Report groups of the asset publishing project, whose name CDK does not pass to the role.',
        ],
      ],
    ],
  ];
  for (const [role, grants] of acknowledged) {
    if (!role) throw new Error('a pipeline role is missing');
    for (const [finding, reason] of grants)
      Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
  Validations.of(pipeline.pipeline.artifactBucket).acknowledge({
    id: 'AwsSolutions-S1',
    reason: 'Holds only pipeline artifacts, reached by the pipeline roles alone; CloudTrail records access to it.',
  });
}

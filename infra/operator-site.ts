// What operators read beside the API: the OpenAPI document (openapi.json, made by `npm run openapi`) and the
// capacity page (web/), published as plain files to a private bucket. The page calls the API on its own
// origin or on `?api=URL`; against an IAM-authorized API it is opened through `capacity-tracker page
// --endpoint <ApiUrl>`, which serves these files locally and signs the page's calls (README).
import { FileSystem, RemovalPolicy, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

export interface OperatorSiteProps {
  /** Keep the bucket and its files when the stack goes (every stage but dev). */
  keep: boolean;
}

/** web/ and openapi.json side by side in one directory, as the local runner serves them. */
function stageFiles(): string {
  const dir = FileSystem.mkdtemp('capacity-tracker-site');
  for (const name of readdirSync(join(ROOT, 'web'))) copyFileSync(join(ROOT, 'web', name), join(dir, name));
  copyFileSync(join(ROOT, 'openapi.json'), join(dir, 'openapi.json'));
  return dir;
}

export class OperatorSite extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: OperatorSiteProps) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: props.keep,
      removalPolicy: props.keep ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'It holds only the published API description and the static page, no ledger data; CloudTrail records who changes it.',
    });

    // CDK's copier Lambda would get wildcard S3 actions and a managed policy; it gets this role instead,
    // closed to CDK's own grants, with the exact actions the copy needs.
    const files = new Asset(this, 'Files', { path: stageFiles() });
    const logs = new LogGroup(this, 'CopierLogs', {
      retention: props.keep ? RetentionDays.THREE_MONTHS : RetentionDays.ONE_WEEK,
      removalPolicy: props.keep ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const role = new Role(this, 'CopierRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Copies the OpenAPI document and the capacity page into the operator bucket at deploy time.',
    });
    role.addToPolicy(
      new PolicyStatement({ actions: ['s3:GetObject'], resources: [files.bucket.arnForObjects(files.s3ObjectKey)] }),
    );
    role.addToPolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logs.logGroupArn] }),
    );
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnElement)}.Arn>/*]`,
      reason: 'A deployment replaces whatever files the operator bucket holds, and only that bucket.',
    });
    const publish = new BucketDeployment(this, 'Publish', {
      sources: [Source.bucket(files.bucket, files.s3ObjectKey)],
      destinationBucket: this.bucket,
      role: role.withoutPolicyUpdates(),
      logGroup: logs,
      // In dev the files go with the stack, so that the bucket can be deleted.
      retainOnDelete: props.keep,
    });
    // The closed role leaves CDK no way to order the copy after the policy: say it here.
    publish.node.addDependency(role);
    // The copier is a singleton function at the stack's root, named by CDK.
    for (const copier of Stack.of(this).node.children.filter((c) =>
      c.node.id.startsWith('Custom::CDKBucketDeployment'),
    )) {
      Validations.of(copier).acknowledge({
        id: 'AwsSolutions-L1',
        reason: "CDK's BucketDeployment copier: CDK picks and updates its Python runtime.",
      });
    }
  }
}

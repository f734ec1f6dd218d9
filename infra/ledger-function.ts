// One Lambda of the service: bundled locally by esbuild, its own log group and role, and an IAM policy
// made from the entry's declared access (lib/operations.ts) and nothing more; its settings come from there too.
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../lib/api/service';
import type { Access, LambdaSettings } from '../lib/operations';
import { SUMMARY_PREFIX } from '../lib/store/fleet-summary';
import { NODE_INDEX } from '../lib/store/table';
import { BUNDLE } from './bundling';
import { isDev, type StageConfig } from './config';

export const ROOT = join(__dirname, '..');

export interface LedgerFunctionProps {
  /** File under functions/ (without .ts). */
  entry: string;
  access: Access;
  lambda: LambdaSettings;
  table: ITableV2;
  stage: StageConfig;
}

export class LedgerFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: LedgerFunctionProps) {
    super(scope, id);
    const { entry, access, lambda, table, stage } = props;
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: stage.logRetentionDays,
      removalPolicy: isDev(stage) ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    // An explicit role instead of AWSLambdaBasicExecutionRole, whose log permissions cover every log group.
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `capacity-tracker ${stage.name} ${entry}`,
    });
    this.logGroup.grantWrite(role);

    this.fn = new NodejsFunction(this, 'Function', {
      entry: join(ROOT, 'functions', `${entry}.ts`),
      handler: 'handler',
      description: `capacity-tracker ${stage.name}: ${entry}`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: lambda.memoryMb,
      timeout: Duration.seconds(lambda.timeoutSeconds),
      role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      reservedConcurrentExecutions: lambda.reservedConcurrency,
      retryAttempts: lambda.retryAttempts,
      maxEventAge: lambda.maxEventAgeSeconds === undefined ? undefined : Duration.seconds(lambda.maxEventAgeSeconds),
      environment: {
        TABLE_NAME: table.tableName,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: stage.logLevel,
      },
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      bundling: {
        minify: BUNDLE.minify,
        target: BUNDLE.target,
        format: OutputFormat.CJS,
        sourceMap: BUNDLE.sourcemap,
        externalModules: [...BUNDLE.external],
        // Synth runs offline and in CodeBuild without Docker: a missing local esbuild must fail, not pull an image.
        forceDockerBundling: false,
        // Sizes are reported by the infra tests and `npm run build`; synth shows only problems.
        logLevel: LogLevel.WARNING,
      },
    });

    if (access.table.length > 0) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'LedgerTable',
          actions: access.table.map((a) => `dynamodb:${a}`),
          resources: [table.tableArn],
        }),
      );
    }
    if (access.nodeIndex) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'NodeIndex',
          actions: ['dynamodb:Query'],
          resources: [`${table.tableArn}/index/${NODE_INDEX.name}`],
        }),
      );
    }
    if (access.summary) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'FleetSummaryItems',
          actions: access.summary.map((a) => `dynamodb:${a}`),
          resources: [table.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${SUMMARY_PREFIX}*`] } },
        }),
      );
    }
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
    });
  }
}

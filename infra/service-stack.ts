// The service: the ledger table, one Lambda per entry of lib/operations.ts, the HTTP API, the status
// queue, the audit schedule and the alarms.
import { Aws, CfnOutput, Duration, Stack, Tags, Validations, type StackProps } from 'aws-cdk-lib';
import { AccountPrincipal, PolicyStatement, Role } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { CONSUMER_TIMEOUT_SECONDS, HTTP_TIMEOUT_SECONDS, lambdaEntries, OPERATIONS } from '../lib/operations';
import { FLEET_SUMMARY_FUNCTIONS } from '../lib/operations-placement';
import { LedgerAlarms } from './alarms';
import { FleetSummaryFeed } from './fleet-summary';
import { AuditSchedule } from './audit-schedule';
import { isDev, type StageConfig } from './config';
import { LedgerApi } from './http-api';
import { LedgerFunction } from './ledger-function';
import { OperatorSite } from './operator-site';
import { CallerRoles, callerRoleEnvironment, NODE_TAG, restrictQueueSenders } from './roles';
import { StatusQueue } from './status-queue';
import { ledgerTable } from './table';

/** The timeouts of lib/operations.ts (which says why), as CDK durations. */
export const HTTP_TIMEOUT = Duration.seconds(HTTP_TIMEOUT_SECONDS);
export const CONSUMER_TIMEOUT = Duration.seconds(CONSUMER_TIMEOUT_SECONDS);

/** Name of the role the pipeline's smoke test assumes to call a stage's API; fixed so the pipeline can name it. */
export const smokeTestRoleName = (stageName: string) => `capacity-tracker-${stageName}-smoke-test`;
/** The node the smoke test registers and deletes: its invoker role is tagged with it, to act as the node's agent. */
export const SMOKE_TEST_NODE = 'smoke-test';
/** Name of the role the pipeline's smoke test runs as (its CodeBuild project's): the one principal the invoker role trusts. */
export const smokeTestRunnerRoleName = 'capacity-tracker-pipeline-smoke-test-runner';

export interface ServiceStackProps extends StackProps {
  stage: StageConfig;
  /** An account whose principals may assume a role allowed to call this API's /nodes routes (the pipeline's smoke test). */
  smokeTestAccount?: string;
}

export class ServiceStack extends Stack {
  readonly apiUrl: CfnOutput;
  readonly queueUrl: CfnOutput;
  readonly openApiUri: CfnOutput;
  readonly smokeTestRoleArn?: CfnOutput;
  /** The ARNs of the roles callers take (infra/roles.ts). */
  readonly callerRoleArns: CallerRoles['arnOutputs'];
  readonly functions: ReadonlyMap<string, LedgerFunction>;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { stage } = props;
    const table = ledgerTable(this, stage);

    const lambdas = new Construct(this, 'Functions');
    // nodejs22.x is the runtime the bundles target (scripts/build.ts, the bench and the local runs on Node 22).
    Validations.of(lambdas).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'nodejs22.x is the chosen runtime: the bundles target node22 and it is supported until 2027.',
    });
    const functions = new Map<string, LedgerFunction>();
    for (const { entry, access, lambda } of lambdaEntries()) {
      functions.set(entry, new LedgerFunction(lambdas, entry, { entry, access, lambda, table, stage }));
    }
    const summary = new FleetSummaryFeed(this, 'FleetSummary', { table, stage });
    // The candidates and placements read the summary once its first scheduled repair has seeded it (rule G12).
    this.functions = functions;
    const fn = (entry: string): IFunction => {
      const f = functions.get(entry);
      if (!f) throw new Error(`no Lambda entry ${entry}`);
      return f.fn;
    };
    const fns = new Map([...functions].map(([entry, f]) => [entry, f.fn as IFunction]));

    const api = new LedgerApi(this, 'Http', { stage, functions: fns });
    const queue = new StatusQueue(this, 'MigrationStatus', {
      consumer: fn(OPERATIONS.consumeStatusUpdates.entry),
      consumerTimeout: CONSUMER_TIMEOUT,
    });
    const audit = new AuditSchedule(this, 'Audit', {
      plan: fn(OPERATIONS.auditAll.entry),
      slice: fn(OPERATIONS.auditSlice.entry),
      keep: !isDev(stage),
      logRetentionDays: stage.logRetentionDays,
    });
    // Who may call what (docs/security.md): IAM on the routes and the queue, the handlers again from the caller.
    const callers = new CallerRoles(this, 'Callers', { api: api.api, stageName: stage.name });
    this.callerRoleArns = callers.arnOutputs;
    for (const f of functions.values())
      for (const [name, value] of Object.entries(callerRoleEnvironment(stage.name))) f.fn.addEnvironment(name, value);
    const serviceRoles = [...functions.values()].flatMap((f) => (f.fn.role ? [f.fn.role] : []));
    restrictQueueSenders(queue.queue, [...serviceRoles, callers.roles.scheduler]);
    queue.queue.grantSendMessages(callers.roles.scheduler);
    new LedgerAlarms(this, 'Alarms', {
      stageName: stage.name,
      keep: !isDev(stage),
      api: api.api,
      deadLetters: queue.deadLetters,
      summaryFailures: summary.failures,
      table,
      // The summary's consumer and repair crash or time out like any other function: alarmed the same way.
      functions: new Map([
        ...fns,
        [FLEET_SUMMARY_FUNCTIONS.consumer.entry, summary.consumer.fn],
        [FLEET_SUMMARY_FUNCTIONS.repair.entry, summary.repair.fn],
      ]),
      auditRound: audit.machine,
    });

    this.apiUrl = new CfnOutput(this, 'ApiUrl', {
      value: api.url,
      description: 'Base URL of the HTTP API (IAM authorization: sign with SigV4, service execute-api)',
    });
    this.queueUrl = new CfnOutput(this, 'QueueUrl', {
      value: queue.queue.queueUrl,
      description: 'FIFO queue of migration status updates',
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: queue.deadLetters.queueUrl });
    new CfnOutput(this, 'TableName', { value: table.tableName });

    const site = new OperatorSite(this, 'OperatorSite', { keep: !isDev(stage) });
    this.openApiUri = new CfnOutput(this, 'OpenApiUri', {
      value: site.bucket.s3UrlForObject('openapi.json'),
      description: 'The OpenAPI 3.1 description of this API (aws s3 cp <uri> -)',
    });
    new CfnOutput(this, 'PageUri', {
      value: site.bucket.s3UrlForObject('index.html'),
      description: 'The capacity page; open it with: npx capacity-tracker page --endpoint <ApiUrl>',
    });

    if (props.smokeTestAccount) {
      const role = new Role(this, 'SmokeTestRole', {
        roleName: smokeTestRoleName(stage.name),
        // Not the whole account: only the smoke test's own CodeBuild role may take the API's invoker role.
        assumedBy: new AccountPrincipal(props.smokeTestAccount).withConditions({
          ArnEquals: {
            'aws:PrincipalArn': `arn:${Aws.PARTITION}:iam::${props.smokeTestAccount}:role/${smokeTestRunnerRoleName}`,
          },
        }),
        description:
          "Assumed by the pipeline smoke test: takes the smoke node's agent role (registers, claims, releases) and the operator role (deletes).",
      });
      // As any node's host: its tag names the one node whose agent it may become (docs/security.md, rule W5).
      Tags.of(role).add(NODE_TAG, SMOKE_TEST_NODE);
      role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['sts:AssumeRole', 'sts:TagSession'],
          resources: [callers.roles.agent.roleArn],
        }),
      );
      role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['sts:AssumeRole'], resources: [callers.roles.operator.roleArn] }),
      );
      this.smokeTestRoleArn = new CfnOutput(this, 'SmokeTestRoleArn', { value: role.roleArn });
    }
  }
}

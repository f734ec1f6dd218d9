// The service stack's template: the table, one Lambda per entry with exactly its declared access, the
// HTTP API, the status queue, the audit schedule and the alarms; cdk-nag's AwsSolutions findings; and the
// bundles, really built by esbuild as `cdk synth` builds them.
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { lambdaEntries, ROUTES } from '../../lib/operations';
import { FLEET_SUMMARY_FUNCTIONS } from '../../lib/operations-placement';
import { KEY, NODE_INDEX, TTL_ATTRIBUTE } from '../../lib/store/table';
import { AUDIT_LATE_SHARE, AUDIT_MS_PER_NODE, AUDIT_ROUND, roundSeconds } from '../../lib/audit-round';
import { AUDIT_PERIOD, AUDIT_ROUND_TIMEOUT, ROUND_INCOMPLETE } from '../../infra/audit-schedule';
import { CONSUMER_TIMEOUT, HTTP_TIMEOUT } from '../../infra/service-stack';
import { MAX_RECEIVE_COUNT, transientBoundSeconds, VISIBILITY_TIMEOUT_SECONDS } from '../../lib/status-retry';
import { synthesize, type Synthesized } from './synth';

// The size target itself (issue 17): the largest bundle, create-placement, is about 145 KB with zod/mini and our own
// X-Ray emitter; `npm run bench` times their cold start against the empty handler's.
const MAX_BUNDLE_KB = 200;
// A template's properties are whatever CloudFormation takes: the tests read them as loosely as the template is.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;
type Resource = { Type: string; Properties: Loose; Metadata?: Loose; DeletionPolicy?: string };

let dev: Synthesized;
let prod: Synthesized;
let t: Template;
beforeAll(() => {
  // One synth with the real bundles (the slow part), one of prod without them for what differs by stage.
  dev = synthesize({ stage: 'dev' });
  prod = synthesize({ stage: 'prod', 'aws:cdk:bundling-stacks': [] });
  t = dev.template('CapacityTracker-dev');
});
afterAll(() => {
  dev?.cleanup();
  prod?.cleanup();
});

const resources = (template: Template, type: string) =>
  Object.entries(template.findResources(type)) as [string, Resource][];
const pathOf = (r: Resource) => String(r.Metadata?.['aws:cdk:path'] ?? '');
/** The Lambda function resource of an entry, and its logical id. */
function lambda(entry: string): [string, Resource] {
  const found = resources(t, 'AWS::Lambda::Function').find(([, r]) =>
    pathOf(r).includes(`/Functions/${entry}/Function/`),
  );
  if (!found) throw new Error(`no function for ${entry}`);
  return found;
}
/** The IAM statements attached to an entry's role. */
function statementsOf(entry: string): { Action: string | string[]; Resource: unknown; Sid?: string }[] {
  return resources(t, 'AWS::IAM::Policy')
    .filter(([, r]) => pathOf(r).includes(`/Functions/${entry}/Role/`))
    .flatMap(([, r]) => r.Properties.PolicyDocument.Statement);
}
const partition = <T>(xs: T[], test: (x: T) => boolean): [T[], T[]] => [xs.filter(test), xs.filter((x) => !test(x))];
const actionsOf = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('the ledger table', () => {
  test("on-demand, with the store's keys, a keys-only node index, a TTL, PITR and encryption at rest", () => {
    t.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: KEY.partition, KeyType: 'HASH' },
        { AttributeName: KEY.sort, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: NODE_INDEX.name,
          KeySchema: [
            { AttributeName: NODE_INDEX.partition, KeyType: 'HASH' },
            { AttributeName: NODE_INDEX.sort, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        }),
      ],
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      // Release tombstones expire (rule O5).
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
  });

  test('dev may be destroyed; prod is retained and protected from deletion', () => {
    const [, devTable] = resources(t, 'AWS::DynamoDB::GlobalTable')[0]!;
    expect(devTable.DeletionPolicy).toBe('Delete');
    expect(devTable.Properties.Replicas[0].DeletionProtectionEnabled).toBe(false);
    const [, prodTable] = resources(prod.template('CapacityTracker-prod'), 'AWS::DynamoDB::GlobalTable')[0]!;
    expect(prodTable.DeletionPolicy).toBe('Retain');
    expect(prodTable.Properties.Replicas[0].DeletionProtectionEnabled).toBe(true);
  });
});

describe('the functions', () => {
  test("one per entry of lib/operations.ts, the fleet summary's consumer and repair, and no other but CDK's file copier", () => {
    const [copiers, ours] = partition(resources(t, 'AWS::Lambda::Function'), ([, r]) =>
      pathOf(r).includes('/Custom::CDKBucketDeployment'),
    );
    expect(ours.map(([, r]) => pathOf(r).split('/')[2]).sort()).toEqual(
      [...lambdaEntries().map((e) => e.entry), 'Consumer', 'Repair'].sort(),
    );
    expect(copiers).toHaveLength(1);
  });

  test('the fleet summary: the stream with retries, bisection and a failure queue, a repair every 5 minutes; summary items only', () => {
    const mappings = resources(t, 'AWS::Lambda::EventSourceMapping').filter(([, m]) => m.Properties.StartingPosition);
    expect(mappings).toHaveLength(1);
    const mapping = mappings[0]![1];
    expect(mapping.Properties).toMatchObject({
      MaximumBatchingWindowInSeconds: 1,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: expect.anything() } },
    });
    const policies = resources(t, 'AWS::IAM::Policy').filter(([, p]) => pathOf(p).includes('/FleetSummary/'));
    const statements = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Loose[]);
    const ITEM_ACTIONS = ['GetItem', 'BatchGetItem', 'Query', 'Scan', 'PutItem', 'UpdateItem', 'DeleteItem'];
    const table = statements.filter((s) =>
      [s.Action].flat().some((a: string) => ITEM_ACTIONS.some((i) => a === `dynamodb:${i}`)),
    );
    const onSummary = (actions: readonly string[]) =>
      expect.objectContaining({
        Action: actions.length === 1 ? `dynamodb:${actions[0]}` : actions.map((a) => `dynamodb:${a}`),
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FLEET#*'] } },
      });
    // The consumer writes summary items only; the repair also reads the node items it mends from.
    const { consumer, repair } = FLEET_SUMMARY_FUNCTIONS;
    expect(table.filter((s) => s.Sid === 'FleetSummaryItems')).toEqual(
      expect.arrayContaining([onSummary(consumer.access.summary), onSummary(repair.access.summary)]),
    );
    expect(table.filter((s) => s.Sid !== 'FleetSummaryItems').map((s) => [s.Sid, s.Action])).toEqual([
      ['LedgerTable', 'dynamodb:BatchGetItem'],
      ['NodeIndex', 'dynamodb:Query'],
    ]);
    const rules = resources(t, 'AWS::Events::Rule').filter(([, r]) => pathOf(r).includes('/FleetSummary/'));
    expect(rules.map(([, r]) => r.Properties.ScheduleExpression)).toEqual(['rate(5 minutes)']);
  });

  test.each(lambdaEntries().map((e) => e.entry))(
    '%s: nodejs22.x on arm64, active tracing, its own log group, the table and Powertools settings',
    (entry) => {
      const [, fn] = lambda(entry);
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: { Ref: expect.stringMatching(/Logs/) } },
        Environment: {
          Variables: {
            TABLE_NAME: { Ref: expect.any(String) },
            POWERTOOLS_SERVICE_NAME: 'capacity-tracker',
            POWERTOOLS_METRICS_NAMESPACE: 'CapacityTracker',
            POWERTOOLS_LOG_LEVEL: 'DEBUG',
          },
        },
      });
    },
  );

  test("timeouts: 10 s behind the API, the queue consumer's, and the audit round's planner and slices", () => {
    expect(lambda('claim-instance')[1].Properties.Timeout).toBe(HTTP_TIMEOUT.toSeconds());
    expect(lambda('migration-status-queue')[1].Properties.Timeout).toBe(CONSUMER_TIMEOUT.toSeconds());
    expect(lambda('audit-all')[1].Properties.Timeout).toBe(AUDIT_ROUND.planTimeoutSeconds);
    expect(lambda('audit-slice')[1].Properties.Timeout).toBe(AUDIT_ROUND.sliceTimeoutSeconds);
  });

  test('log groups keep 7 days in dev, 90 in prod', () => {
    expect(new Set(resources(t, 'AWS::Logs::LogGroup').map(([, r]) => r.Properties.RetentionInDays))).toEqual(
      new Set([7]),
    );
    expect(
      new Set(
        resources(prod.template('CapacityTracker-prod'), 'AWS::Logs::LogGroup').map(
          ([, r]) => r.Properties.RetentionInDays,
        ),
      ),
    ).toEqual(new Set([90]));
  });
});

describe('least privilege', () => {
  test.each(lambdaEntries().map(({ entry, access }) => [entry, access] as const))(
    '%s may use exactly its declared DynamoDB actions, on the table (and index) only',
    (entry, access) => {
      const statements = statementsOf(entry);
      const table = statements.find((s) => s.Sid === 'LedgerTable');
      if (access.table.length > 0) {
        expect(table && actionsOf(table).sort()).toEqual(access.table.map((a) => `dynamodb:${a}`).sort());
        expect(table?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Ledger/), 'Arn'] });
      } else {
        // The audit round's planner reads the keys-only index and nothing of the table's items.
        expect(table).toBeUndefined();
      }
      const index = statements.find((s) => s.Sid === 'NodeIndex');
      if (access.nodeIndex) {
        expect(index?.Action).toBe('dynamodb:Query');
        expect(JSON.stringify(index?.Resource)).toContain(`/index/${NODE_INDEX.name}`);
      } else {
        expect(index).toBeUndefined();
      }
      const summary = statements.find((s) => s.Sid === 'FleetSummaryItems');
      if (access.summary) {
        expect([summary?.Action].flat()).toEqual(access.summary.map((a) => `dynamodb:${a}`));
        expect((summary as Loose | undefined)?.Condition).toEqual({
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FLEET#*'] },
        });
      } else {
        expect(summary).toBeUndefined();
      }
      // Nothing else reaches DynamoDB.
      const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      const granted = [access.table.length > 0, access.nodeIndex, access.summary].filter(Boolean);
      expect(dynamo.length).toBe(granted.length);
    },
  );

  test('only the queue consumer may receive and delete status messages', () => {
    const sqsUsers = lambdaEntries().filter(({ entry }) =>
      statementsOf(entry).some((s) => actionsOf(s).some((a) => a.startsWith('sqs:'))),
    );
    expect(sqsUsers.map((e) => e.entry)).toEqual(['migration-status-queue']);
    const sqs = statementsOf('migration-status-queue').find((s) => actionsOf(s).includes('sqs:ReceiveMessage'));
    expect(actionsOf(sqs!).sort()).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
    ]);
  });

  test('no statement anywhere grants a wildcard action, and no function role has a managed policy', () => {
    const actions = resources(t, 'AWS::IAM::Policy').flatMap(([, r]) =>
      r.Properties.PolicyDocument.Statement.flatMap(actionsOf),
    ) as string[];
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    expect(resources(t, 'AWS::IAM::Role').filter(([, r]) => r.Properties.ManagedPolicyArns)).toEqual([]);
  });

  test("logs go only to the function's own log group", () => {
    const logs = statementsOf('claim-instance').find((s) => actionsOf(s).includes('logs:PutLogEvents'));
    expect(logs?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/claiminstanceLogs/), 'Arn'] });
  });
});

describe('the HTTP API', () => {
  test('every route of lib/operations.ts, each with IAM authorization', () => {
    const routes = resources(t, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    expect(routes.filter((r) => r.AuthorizationType !== 'AWS_IAM')).toEqual([]);
  });

  test('the $default stage is throttled and writes JSON access logs', () => {
    const [, stage] = resources(t, 'AWS::ApiGatewayV2::Stage')[0]!;
    expect(stage.Properties).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
    });
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format as string) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      userArn: '$context.identity.userArn',
    });
    const [, prodStage] = resources(prod.template('CapacityTracker-prod'), 'AWS::ApiGatewayV2::Stage')[0]!;
    expect(prodStage.Properties.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 });
  });

  test('outputs the API URL and the queue URL', () => {
    t.hasOutput('ApiUrl', {});
    t.hasOutput('QueueUrl', {});
  });
});

describe('the migration status queue', () => {
  const queues = () => resources(t, 'AWS::SQS::Queue');
  test('FIFO, SQS-managed encryption, a FIFO dead-letter queue after a few receives', () => {
    const [main, dlq] = [
      queues().find(([, q]) => q.Properties.RedrivePolicy),
      queues().find(([, q]) => !q.Properties.RedrivePolicy && q.Properties.FifoQueue),
    ];
    expect(main?.[1].Properties).toMatchObject({
      FifoQueue: true,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq?.[0], 'Arn'] } },
    });
    expect(main?.[1].Properties.RedrivePolicy.maxReceiveCount).toBe(MAX_RECEIVE_COUNT);
    // Enough that a short throttle is ridden out before anything is dead-lettered.
    expect(MAX_RECEIVE_COUNT).toBeGreaterThanOrEqual(3);
    expect(dlq?.[1].Properties).toMatchObject({ FifoQueue: true, SqsManagedSseEnabled: true });
  });

  test("the visibility timeout is at least 6 times the consumer's timeout", () => {
    const main = queues().find(([, q]) => q.Properties.RedrivePolicy)![1];
    expect(main.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(
      6 * lambda('migration-status-queue')[1].Properties.Timeout,
    );
  });

  test('rule OP1: a message that keeps failing holds its instance back at most 5 minutes, as the settings compute', () => {
    const main = queues().find(([, q]) => q.Properties.RedrivePolicy)![1].Properties;
    const bound = transientBoundSeconds(main.VisibilityTimeout, main.RedrivePolicy.maxReceiveCount);
    expect(bound).toBe(transientBoundSeconds(VISIBILITY_TIMEOUT_SECONDS, MAX_RECEIVE_COUNT));
    expect(bound).toBeLessThanOrEqual(5 * 60);
  });

  test('an alarm on status messages rejected as never applicable', () => {
    const alarms = resources(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    expect(alarms).toContainEqual(
      expect.objectContaining({ Namespace: 'CapacityTracker', MetricName: 'StatusMessagesRejected', Threshold: 1 }),
    );
  });

  test('both queues, and the fleet summary failure queue, refuse requests without TLS', () => {
    const policies = resources(t, 'AWS::SQS::QueuePolicy').map(([, p]) => p.Properties.PolicyDocument.Statement);
    expect(policies).toHaveLength(3);
    for (const statements of policies) {
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  test("the consumer's event source reports batch item failures", () => {
    const [consumerId] = lambda('migration-status-queue');
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: consumerId },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
    });
  });
});

describe('the audit schedule', () => {
  const machine = () => resources(t, 'AWS::StepFunctions::StateMachine');
  /** The round's definition: the state machine's DefinitionString is an Fn::Join of text and ARNs. */
  function definition(): Loose {
    const parts = machine()[0]![1].Properties.DefinitionString['Fn::Join'][1] as unknown[];
    // The ARNs stand inside the text's quotes.
    return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'ARN')).join('')) as Loose;
  }

  test('every 5 minutes the rule starts one Express round, with no redelivery, timed out before the next', () => {
    const [machineId, round] = machine()[0]!;
    expect(machine()).toHaveLength(1);
    expect(round.Properties).toMatchObject({
      StateMachineType: 'EXPRESS',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL' },
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: `rate(${AUDIT_PERIOD.toMinutes()} minutes)`,
      Targets: [Match.objectLike({ Arn: { Ref: machineId }, RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
    expect(definition().TimeoutSeconds).toBe(AUDIT_ROUND_TIMEOUT.toSeconds());
    expect(AUDIT_ROUND_TIMEOUT.toSeconds()).toBeLessThan(AUDIT_PERIOD.toSeconds());
  });

  test('the planner, then the slices in parallel, each retried with a doubling wait, then failed if any failed', () => {
    const { StartAt, States } = definition();
    expect(StartAt).toBe('Plan');
    const retry = {
      ErrorEquals: ['States.ALL'],
      MaxAttempts: AUDIT_ROUND.sliceAttempts - 1,
      IntervalSeconds: AUDIT_ROUND.retryDelaySeconds,
      BackoffRate: 2,
    };
    expect(States.Plan).toMatchObject({ Next: 'Slices', Retry: [retry] });
    expect(States.Slices).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.slices',
      MaxConcurrency: AUDIT_ROUND.concurrency,
      Next: 'AllSlicesAudited',
    });
    const slice = States.Slices.ItemProcessor.States.AuditSlice;
    expect(slice).toMatchObject({ Retry: [retry], Catch: [expect.objectContaining({ Next: 'SliceFailed' })] });
    expect(States.AllSlicesAudited).toMatchObject({ Type: 'Choice', QueryLanguage: 'JSONata' });
    expect(States.RoundIncomplete).toMatchObject({ Type: 'Fail', Error: ROUND_INCOMPLETE });
  });

  test('a round of 100,000 nodes fits its timeout at the typical per-node time, and within late at the worst', () => {
    expect(roundSeconds(100_000, AUDIT_MS_PER_NODE.typical)).toBeLessThan(
      AUDIT_LATE_SHARE * AUDIT_ROUND.roundTimeoutSeconds,
    );
    expect(roundSeconds(100_000, AUDIT_MS_PER_NODE.worst)).toBeLessThan(
      AUDIT_LATE_SHARE * AUDIT_ROUND.roundTimeoutSeconds,
    );
    // A slice audited one node at a time at the worst per-node time still ends inside its Lambda's timeout.
    expect((AUDIT_ROUND.sliceSize * AUDIT_MS_PER_NODE.worst) / 1000).toBeLessThan(AUDIT_ROUND.sliceTimeoutSeconds);
  });
});

describe('the alarms', () => {
  const alarms = () => resources(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
  test('on the dead-letter queue, API 5xx, Lambda throttles of every function and DynamoDB throttles', () => {
    const [dlqId] = resources(t, 'AWS::SQS::Queue').find(([, q]) => !q.Properties.RedrivePolicy)!;
    expect(alarms()).toContainEqual(
      expect.objectContaining({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    );
    expect(alarms()).toContainEqual(expect.objectContaining({ Namespace: 'AWS/ApiGateway', MetricName: '5xx' }));
    const throttled = alarms().filter((a) => a.Namespace === 'AWS/Lambda' && a.MetricName === 'Throttles');
    expect(throttled).toHaveLength(lambdaEntries().length + 2); // and the fleet summary's two
    expect(alarms()).toContainEqual(
      expect.objectContaining({
        Metrics: expect.arrayContaining([
          expect.objectContaining({
            MetricStat: expect.objectContaining({
              Metric: expect.objectContaining({ MetricName: 'WriteThrottleEvents' }),
            }),
          }),
        ]),
      }),
    );
  });

  test('on invocation errors of every function, and on audits that find drift, fail nodes, fail a round or run late', () => {
    const errors = alarms().filter((a) => a.Namespace === 'AWS/Lambda' && a.MetricName === 'Errors');
    // The fleet summary's consumer and repair too.
    expect(errors).toHaveLength(lambdaEntries().length + 2);
    for (const name of ['AuditRepairs', 'AuditFailures']) {
      expect(alarms()).toContainEqual(
        expect.objectContaining({
          Namespace: 'CapacityTracker',
          MetricName: name,
          Dimensions: [{ Name: 'service', Value: 'capacity-tracker' }],
          Statistic: 'Sum',
          Threshold: 1,
        }),
      );
    }
    const [machineId] = resources(t, 'AWS::StepFunctions::StateMachine')[0]!;
    const onRound = { Name: 'StateMachineArn', Value: { Ref: machineId } };
    expect(alarms()).toContainEqual(
      expect.objectContaining({
        Namespace: 'AWS/States',
        MetricName: 'ExecutionTime',
        Statistic: 'Maximum',
        Dimensions: [onRound],
        Threshold: AUDIT_LATE_SHARE * AUDIT_ROUND_TIMEOUT.toMilliseconds(),
      }),
    );
    const failedRounds = alarms().find((a) => String(a.AlarmDescription).startsWith('An audit round failed'));
    const metricNames = (failedRounds?.Metrics as Loose[]).flatMap((m) =>
      m.MetricStat ? [[m.MetricStat.Metric.MetricName, m.MetricStat.Metric.Dimensions]] : [],
    );
    expect(metricNames).toEqual(
      ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted'].map((name) => [name, [onRound]]),
    );
    expect(failedRounds).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  test('every alarm notifies the encrypted, TLS-only topic', () => {
    const [topicId, topic] = resources(t, 'AWS::SNS::Topic')[0]!;
    expect(topic.Properties.KmsMasterKeyId).toBeDefined();
    for (const a of alarms()) expect(a.AlarmActions).toEqual([{ Ref: topicId }]);
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    // CloudWatch encrypts what it publishes with the topic's key.
    t.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          }),
        ]),
      },
    });
  });
});

test('cdk-nag AwsSolutions: no finding left unacknowledged, in dev or prod', () => {
  expect(dev.findings).toEqual([]);
  expect(prod.findings).toEqual([]);
});

test(`every bundle is built, and each index.js is under ${MAX_BUNDLE_KB} KB`, () => {
  const rows = lambdaEntries().map(({ entry }) => {
    const [, fn] = lambda(entry);
    const asset = String(fn.Metadata?.['aws:asset:path']);
    const file = join(dev.assembly.directory, asset, 'index.js');
    expect(existsSync(file)).toBe(true);
    return { entry, kb: statSync(file).size / 1024 };
  });
  console.log(
    `bundle sizes (index.js):\n${rows.map((r) => `  ${r.entry.padEnd(24)} ${r.kb.toFixed(1).padStart(6)} KB`).join('\n')}`,
  );
  expect(rows.filter((r) => r.kb >= MAX_BUNDLE_KB)).toEqual([]);
});

describe('the operator site', () => {
  test('a private, encrypted, TLS-only bucket; versioned and retained outside dev', () => {
    const [, bucket] = resources(t, 'AWS::S3::Bucket')[0]!;
    expect(bucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    expect(bucket.DeletionPolicy).toBe('Delete');
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    const [, prodBucket] = resources(prod.template('CapacityTracker-prod'), 'AWS::S3::Bucket')[0]!;
    expect(prodBucket.DeletionPolicy).toBe('Retain');
    expect(prodBucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  test('the page and the OpenAPI document are published there, and named in the outputs', () => {
    t.hasResourceProperties('Custom::CDKBucketDeployment', { Prune: true, RetainOnDelete: false });
    t.hasOutput('OpenApiUri', {
      Value: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['/openapi.json'])]) }),
    });
    t.hasOutput('PageUri', {});
  });

  test('the copier may read only its own staged files and write only the site bucket', () => {
    const [copier] = resources(t, 'AWS::Lambda::Function').filter(([, r]) =>
      pathOf(r).includes('/Custom::CDKBucketDeployment'),
    );
    const roleId = (copier![1].Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    const statements = resources(t, 'AWS::IAM::Policy')
      .filter(([, r]) => (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId))
      .flatMap(([, r]) => r.Properties.PolicyDocument.Statement as { Action: string | string[] }[]);
    expect(statements.flatMap(actionsOf).sort()).toEqual([
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:DeleteObject',
      's3:GetObject',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
    ]);
  });
});

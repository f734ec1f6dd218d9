// The fleet summary's feed (lib/store/fleet-summary.ts): the ledger table's stream into the consumer Lambda, which
// may only read and update the summary items (dynamodb:LeadingKeys on FLEET#*). A batch that keeps failing after
// its retries and bisections is recorded in a queue (its stream position, to rebuild from) and alarms.
import { Duration, Validations } from 'aws-cdk-lib';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { Table, type TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SUMMARY_PREFIX } from '../lib/store/fleet-summary';
import type { StageConfig } from './config';
import { LedgerFunction } from './ledger-function';

export const FLEET_SUMMARY_ENTRY = 'fleet-summary';

export interface FleetSummaryProps {
  table: TableV2;
  stage: StageConfig;
}

export class FleetSummaryFeed extends Construct {
  readonly consumer: LedgerFunction;
  readonly failures: Queue;

  constructor(scope: Construct, id: string, props: FleetSummaryProps) {
    super(scope, id);
    const { table, stage } = props;
    this.consumer = new LedgerFunction(this, 'Consumer', {
      entry: FLEET_SUMMARY_ENTRY,
      access: { table: [] },
      lambda: { memoryMb: 512, timeoutSeconds: 30 },
      table,
      stage,
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'nodejs22.x is the chosen runtime: the bundles target node22 and it is supported until 2027.',
    });
    this.consumer.fn.role?.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'FleetSummaryItems',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${SUMMARY_PREFIX}*`] } },
      }),
    );
    this.failures = new Queue(this, 'Failures', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the on-failure destination of the fleet summary stream consumer.',
    });
    // TableV2 is no ITable; the event source needs only the stream's ARN.
    const streamed = Table.fromTableAttributes(this, 'Stream', {
      tableArn: table.tableArn,
      tableStreamArn: table.tableStreamArn,
    });
    this.consumer.fn.addEventSource(
      new DynamoEventSource(streamed, {
        startingPosition: StartingPosition.LATEST,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        retryAttempts: 10,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.failures),
      }),
    );
  }
}

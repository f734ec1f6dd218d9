// The fleet summary's feed (lib/store/fleet-summary.ts, rule G12): the ledger table's stream into the consumer
// Lambda, which may only read and write the summary items (dynamodb:LeadingKeys on FLEET#*), and a scheduled repair
// that seeds the summary and puts right what the consumer missed. A batch that keeps failing after its retries and
// bisections is recorded in a queue (its stream position) and alarms; the next repair mends the summary.
import { Duration, Validations } from 'aws-cdk-lib';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { Table, type TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FLEET_SUMMARY_FUNCTIONS } from '../lib/operations-placement';
import type { StageConfig } from './config';
import { LedgerFunction } from './ledger-function';

/** How often the repair runs: the longest a node's entry stays wrong if the stream's consumer fails. */
export const FLEET_REPAIR_MINUTES = 5;

export interface FleetSummaryProps {
  table: TableV2;
  stage: StageConfig;
}

export class FleetSummaryFeed extends Construct {
  readonly consumer: LedgerFunction;
  readonly repair: LedgerFunction;
  readonly failures: Queue;

  constructor(scope: Construct, id: string, props: FleetSummaryProps) {
    super(scope, id);
    const { table, stage } = props;
    this.consumer = new LedgerFunction(this, 'Consumer', {
      ...FLEET_SUMMARY_FUNCTIONS.consumer,
      table,
      stage,
    });
    this.repair = new LedgerFunction(this, 'Repair', {
      ...FLEET_SUMMARY_FUNCTIONS.repair,
      table,
      stage,
    });
    new Rule(this, 'RepairSchedule', {
      schedule: Schedule.rate(Duration.minutes(FLEET_REPAIR_MINUTES)),
      targets: [new LambdaFunction(this.repair.fn, { retryAttempts: 0 })],
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'nodejs22.x is the chosen runtime: the bundles target node22 and it is supported until 2027.',
    });
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

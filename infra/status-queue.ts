// The FIFO queue of migration status updates, its dead-letter queue, and the consumer's event source.
import { Duration, Validations } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { OPERATIONS } from '../lib/operations';
// The retry settings are rule OP1's (lib/status-retry.ts says why).
import { MAX_RECEIVE_COUNT, VISIBILITY_PER_CONSUMER_TIMEOUT } from '../lib/status-retry';

export interface StatusQueueProps {
  consumer: IFunction;
  consumerTimeout: Duration;
}

export class StatusQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetters: Queue;

  constructor(scope: Construct, id: string, props: StatusQueueProps) {
    super(scope, id);
    this.deadLetters = new Queue(this, 'DeadLetters', {
      fifo: true,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS keeps anything: time to read why a status never applied.
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is the dead-letter queue of the status queue.',
    });
    this.queue = new Queue(this, 'Queue', {
      fifo: true,
      // A status repeated within 5 minutes is a duplicate anyway; senders may still set their own id.
      contentBasedDeduplication: true,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * VISIBILITY_PER_CONSUMER_TIMEOUT),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    props.consumer.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: OPERATIONS.consumeStatusUpdates.trigger.batchSize,
        reportBatchItemFailures: true,
      }),
    );
  }
}

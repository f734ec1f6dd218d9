// The FIFO queue of migration status updates, its dead-letter queue, and the consumer's event source.
import { Duration, Validations } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { OPERATIONS } from '../lib/operations';

/**
 * Receives before a message goes to the dead-letter queue. The consumer skips the rest of a failing
 * message's group (skipGroupOnError), so a message queued behind a failing one is received and returned
 * too, and a status that overtook its move claim needs a few rounds; 10 receives, one visibility timeout
 * apart, give a message about half an hour.
 */
export const MAX_RECEIVE_COUNT = 10;
/** AWS: the visibility timeout at least six times the consumer's timeout, so retried batches do not overlap. */
export const VISIBILITY_PER_CONSUMER_TIMEOUT = 6;

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

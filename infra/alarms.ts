// Alarms on what needs a person: dead letters and rejected status messages, server errors, failing or
// throttled functions, throttled tables, and audit rounds that fail, run late or find drift. They notify one
// SNS topic.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  Metric,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../lib/api/service';
import { AUDIT_LATE_SHARE, AUDIT_ROUND } from '../lib/audit-round';

export interface LedgerAlarmsProps {
  stageName: string;
  /** Keep the topic's key when the stack goes (every stage but dev). */
  keep: boolean;
  api: HttpApi;
  deadLetters: IQueue;
  /** The fleet summary consumer's on-failure destination (infra/fleet-summary.ts). */
  summaryFailures?: IQueue;
  table: ITableV2;
  functions: ReadonlyMap<string, IFunction>;
  /** The audit round's state machine (infra/audit-schedule.ts). */
  auditRound?: IStateMachine;
}

/** The service's own metrics (Powertools EMF: its namespace, the service as the one dimension), summed over 5 minutes. */
const serviceMetric = (metricName: string) =>
  new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME },
    statistic: 'Sum',
    period: Duration.minutes(5),
  });

/** API 5xx answers in 5 minutes that raise the alarm: one 503 under a burst is the retry contract working. */
export const SERVER_ERRORS_THRESHOLD = 5;

export class LedgerAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: LedgerAlarmsProps) {
    super(scope, id);
    // CloudWatch cannot publish to a topic under the AWS managed SNS key (its policy cannot be changed),
    // so the topic gets a key of its own that lets CloudWatch encrypt.
    const key = new Key(this, 'TopicKey', {
      enableKeyRotation: true,
      description: `capacity-tracker ${props.stageName} alarm topic`,
      removalPolicy: props.keep ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
      }),
    );
    this.topic = new Topic(this, 'Topic', {
      displayName: `capacity-tracker ${props.stageName} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    const action = new SnsAction(this.topic);

    const alarm = (id: string, description: string, metric: IMetric, threshold: number) => {
      const a = new Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(action);
      this.alarms.push(a);
    };

    alarm(
      'DeadLetters',
      'A migration status update never applied and is in the dead-letter queue: read it, fix the cause, redrive it.',
      props.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      1,
    );
    if (props.summaryFailures)
      alarm(
        'FleetSummaryFailures',
        'A stream batch never folded into the fleet summary: the scheduled repair mends the summary within 5 minutes; find the cause in the consumer log.',
        props.summaryFailures.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        1,
      );
    alarm(
      'StatusRejected',
      'A migration status message could never apply (malformed, unknown migration, refused status) and was dropped: its body is in the consumer log.',
      serviceMetric('StatusMessagesRejected'),
      1,
    );
    alarm(
      'ServerErrors',
      `At least ${SERVER_ERRORS_THRESHOLD} API answers with 5xx in 5 minutes (Unavailable after retries, or a failing function).`,
      props.api.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      SERVER_ERRORS_THRESHOLD,
    );
    for (const [entry, fn] of props.functions) {
      // One alarm per function: a metric-math alarm takes at most 10 metrics, fewer than there are functions.
      alarm(
        `Throttles-${entry}`,
        `Lambda ${entry} was throttled (account concurrency, or its reserved concurrency).`,
        fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
        1,
      );
      // Handlers turn every known failure into an answer: an invocation error is a crash or a timeout.
      alarm(
        `Errors-${entry}`,
        `Lambda ${entry} failed an invocation (a crash or a timeout, not a refusal).`,
        fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        1,
      );
    }
    this.auditAlarms(alarm, props.auditRound);
    alarm(
      'TableThrottles',
      'DynamoDB throttled reads or writes of the ledger (a hot node item or partition beyond its per-partition limits).',
      new MathExpression({
        expression: 'FILL(r, 0) + FILL(w, 0)',
        usingMetrics: {
          r: props.table.metric('ReadThrottleEvents', { statistic: 'Sum' }),
          w: props.table.metric('WriteThrottleEvents', { statistic: 'Sum' }),
        },
        period: Duration.minutes(5),
        label: 'ledger throttle events',
      }),
      1,
    );
  }

  private auditAlarms(
    alarm: (id: string, text: string, metric: IMetric, threshold: number) => void,
    round?: IStateMachine,
  ) {
    alarm(
      'AuditDrift',
      'An audit found and repaired drift: something changed the ledger from outside the service (see the audit logs).',
      serviceMetric('AuditRepairs'),
      1,
    );
    alarm(
      'AuditFailures',
      'The scheduled audit could not audit some nodes (busy or failing); their slice is retried, then the next round.',
      serviceMetric('AuditFailures'),
      1,
    );
    if (!round) return;
    const fiveMinutes = { period: Duration.minutes(5), statistic: 'Sum' };
    alarm(
      'AuditRoundFailed',
      'An audit round failed (a slice failed every attempt, or the planner did) or timed out: some nodes went unaudited.',
      new MathExpression({
        expression: 'FILL(f, 0) + FILL(t, 0) + FILL(a, 0)',
        usingMetrics: {
          f: round.metricFailed(fiveMinutes),
          t: round.metricTimedOut(fiveMinutes),
          a: round.metricAborted(fiveMinutes),
        },
        period: Duration.minutes(5),
        label: 'audit rounds failed, timed out or aborted',
      }),
      1,
    );
    alarm(
      'AuditLate',
      `An audit round took ${AUDIT_LATE_SHARE * 100} % of its timeout or more: the fleet is outgrowing the round.`,
      round.metricTime({ period: Duration.minutes(5), statistic: 'Maximum' }),
      AUDIT_LATE_SHARE * AUDIT_ROUND.roundTimeoutSeconds * 1000,
    );
  }
}

// The scheduled audit round (rule A5): an EventBridge rule starts an Express state machine every period;
// it calls the planner (functions/audit-all.ts), then audits the plan's slices in an inline Map
// (functions/audit-slice.ts), each slice retried with a doubling wait, and fails the round if a slice never
// succeeded or the round outlives its timeout. The figures are lib/audit-round.ts's.
import { Duration, RemovalPolicy, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  LogLevel,
  Map as MapState,
  Pass,
  StateMachine,
  StateMachineType,
  Succeed,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke, type LambdaInvokeProps } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { AUDIT_ROUND } from '../lib/audit-round';
import { OPERATIONS } from '../lib/operations';

const { trigger } = OPERATIONS.auditAll;
export const AUDIT_PERIOD = Duration.minutes(trigger.everyMinutes);
export const AUDIT_ROUND_TIMEOUT = Duration.seconds(AUDIT_ROUND.roundTimeoutSeconds);
/** The error of a round in which some slice failed every attempt. */
export const ROUND_INCOMPLETE = 'AuditRoundIncomplete';

export interface AuditScheduleProps {
  plan: IFunction;
  slice: IFunction;
  /** Keep the round's logs when the stack goes (every stage but dev). */
  keep: boolean;
  logRetentionDays: number;
}

/** A Lambda call whose answer is the function's own result, retried as every step of the round is. */
function step(scope: Construct, id: string, fn: IFunction, props: Partial<LambdaInvokeProps> = {}) {
  // Lambda's service errors are retried like the function's own, not by the task's separate 6-try default.
  const task = new LambdaInvoke(scope, id, {
    ...props,
    lambdaFunction: fn,
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
  });
  task.addRetry({
    errors: ['States.ALL'],
    maxAttempts: AUDIT_ROUND.sliceAttempts - 1,
    interval: Duration.seconds(AUDIT_ROUND.retryDelaySeconds),
    backoffRate: 2,
  });
  return task;
}

export class AuditSchedule extends Construct {
  readonly rule: Rule;
  readonly machine: StateMachine;

  constructor(scope: Construct, id: string, props: AuditScheduleProps) {
    super(scope, id);
    const plan = step(this, 'Plan', props.plan);
    const slice = step(this, 'AuditSlice', props.slice, {
      // The node lists stay in the slice's log; the round keeps counts (its payload is at most 256 KB).
      resultSelector: {
        'index.$': '$.index',
        'audited.$': 'States.ArrayLength($.audited)',
        'repaired.$': 'States.ArrayLength($.repaired)',
      },
    });
    const failed = new Pass(this, 'SliceFailed', {
      parameters: { 'index.$': '$.slice.index', failed: true, 'error.$': '$.error.Error' },
    });
    slice.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });
    const slices = new MapState(this, 'Slices', {
      itemsPath: '$.slices',
      itemSelector: { 'round.$': '$.round', 'slice.$': '$$.Map.Item.Value' },
      maxConcurrency: AUDIT_ROUND.concurrency,
      resultPath: '$.slices',
    }).itemProcessor(slice);
    const outcome = Choice.jsonata(this, 'AllSlicesAudited')
      .when(
        Condition.jsonata('{% $count($states.input.slices[failed = true]) > 0 %}'),
        new Fail(this, 'RoundIncomplete', {
          error: ROUND_INCOMPLETE,
          cause: 'A slice of the audit round failed every attempt: its nodes wait for the next round.',
        }),
      )
      .otherwise(new Succeed(this, 'RoundDone'));

    const logs = new LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${this.node.addr}`,
      retention: props.logRetentionDays,
      removalPolicy: props.keep ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.machine = new StateMachine(this, 'Round', {
      comment: 'capacity-tracker: one audit round, every node in slices',
      stateMachineType: StateMachineType.EXPRESS,
      definitionBody: DefinitionBody.fromChainable(plan.next(slices).next(outcome)),
      timeout: AUDIT_ROUND_TIMEOUT,
      tracingEnabled: true,
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
    });
    const stack = Stack.of(this);
    for (const fn of [props.plan, props.slice]) {
      const arn = `<${stack.getLogicalId(fn.node.defaultChild as CfnElement)}.Arn>`;
      Validations.of(this.machine).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${arn}:*]`,
        reason: 'CDK grants the round lambda:InvokeFunction on its two functions and their versions, nothing else.',
      });
    }
    Validations.of(this.machine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Log delivery (logs:CreateLogDelivery and the rest) and X-Ray tracing support no resource-level permissions.',
    });
    this.rule = new Rule(this, 'Rule', {
      description: 'capacity-tracker: an audit round of every node',
      schedule: Schedule.rate(AUDIT_PERIOD),
      targets: [new SfnStateMachine(this.machine, { retryAttempts: trigger.retryAttempts })],
    });
  }
}

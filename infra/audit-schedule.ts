// The periodic audit: an EventBridge rule that starts functions/audit-all.ts, as the table of operations
// (lib/operations.ts, auditAll) says.
import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { OPERATIONS } from '../lib/operations';

const { trigger, lambda } = OPERATIONS.auditAll;
export const AUDIT_PERIOD = Duration.minutes(trigger.everyMinutes);
export const AUDIT_TIMEOUT = Duration.seconds(lambda.timeoutSeconds);

export class AuditSchedule extends Construct {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: { auditAll: IFunction }) {
    super(scope, id);
    this.rule = new Rule(this, 'Rule', {
      description: 'capacity-tracker: audit every node',
      schedule: Schedule.rate(AUDIT_PERIOD),
      targets: [new LambdaFunction(props.auditAll, { retryAttempts: trigger.retryAttempts })],
    });
  }
}

// The periodic audit: an EventBridge rule that starts functions/audit-all.ts.
import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/**
 * A round audits every node one after another, 5-110 ms each: 1,000 nodes take 5 s to 2 minutes. Nova
 * audits every 60 s, but usage here is exact by construction and the audit only finds drift caused from
 * outside, so every 5 minutes is enough, and a round always ends before the next starts.
 */
export const AUDIT_PERIOD = Duration.minutes(5);
/** Under the period (about 2,000 slow nodes); a longer round is cut and the next one starts from the first node. */
export const AUDIT_TIMEOUT = Duration.minutes(4);

export class AuditSchedule extends Construct {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: { auditAll: IFunction }) {
    super(scope, id);
    this.rule = new Rule(this, 'Rule', {
      description: 'capacity-tracker: audit every node',
      schedule: Schedule.rate(AUDIT_PERIOD),
      // A failed round is simply the next round: no redelivery that could overlap it.
      targets: [new LambdaFunction(props.auditAll, { retryAttempts: 0 })],
    });
  }
}

// How cdk-nag names an IAM5 finding on an ARN: as the template has it, with pseudo parameters where the
// stack's environment is unknown (offline synth) and the account and region themselves where it is known.
import { Token, type Stack } from 'aws-cdk-lib';

const known = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);

export const accountInFinding = (stack: Stack) => known(stack.account, 'AccountId');

export function arnFinding(stack: Stack, service: string, resource: string): string {
  return `Resource::arn:<AWS::Partition>:${service}:${known(stack.region, 'Region')}:${accountInFinding(stack)}:${resource}`;
}

export const regionInFinding = (stack: Stack) => known(stack.region, 'Region');

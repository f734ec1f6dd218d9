// A stage of the pipeline: the service stack, deployed as one unit.
import { Stage, type StageProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StageConfig } from './config';
import { ServiceStack } from './service-stack';

export interface ServiceStageProps extends StageProps {
  stage: StageConfig;
  smokeTestAccount?: string;
}

export class ServiceStage extends Stage {
  readonly service: ServiceStack;

  constructor(scope: Construct, id: string, props: ServiceStageProps) {
    super(scope, id, props);
    this.service = new ServiceStack(this, 'CapacityTracker', {
      stage: props.stage,
      smokeTestAccount: props.smokeTestAccount,
    });
  }
}

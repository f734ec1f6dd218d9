import { Metrics } from '@aws-lambda-powertools/metrics';

// CloudWatch metrics as EMF log lines; POWERTOOLS_METRICS_DISABLED=true keeps local runs quiet.
export const metrics = new Metrics({ namespace: 'CapacityTracker', serviceName: 'capacity-tracker' });

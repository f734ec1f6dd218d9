// How the service names itself in logs, metrics and traces; the CDK stack sets the same in each Lambda's environment.
export const SERVICE_NAME = 'capacity-tracker';
export const METRICS_NAMESPACE = 'CapacityTracker';

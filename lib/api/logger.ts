import { Logger } from '@aws-lambda-powertools/logger';

// Structured JSON on stdout; injectLambdaContext adds the request id, http.ts the node, instance and migration.
export const logger = new Logger({ serviceName: 'capacity-tracker' });

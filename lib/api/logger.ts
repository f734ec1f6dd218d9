import { Logger } from '@aws-lambda-powertools/logger';
import { SERVICE_NAME } from './service';

// Structured JSON on stdout; injectLambdaContext adds the request id, http.ts the node, instance and migration.
export const logger = new Logger({ serviceName: SERVICE_NAME });

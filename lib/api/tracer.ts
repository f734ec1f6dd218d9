import { Tracer } from '@aws-lambda-powertools/tracer';
import { SERVICE_NAME } from './service';

// Active only inside Lambda with X-Ray on; elsewhere (tests, local runner, bench) it does nothing.
export const tracer = new Tracer({ serviceName: SERVICE_NAME });

import { Tracer } from '@aws-lambda-powertools/tracer';
import { instrumentStoreClients } from '../store/client';

// Active only inside Lambda with X-Ray on; elsewhere (tests, local runner, bench) it does nothing.
export const tracer = new Tracer({ serviceName: 'capacity-tracker' });

instrumentStoreClients((client) => tracer.captureAWSv3Client(client));

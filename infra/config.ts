// What differs between stages, and how the app reads its parameters from CDK context (`-c key=value`).
import type { Node } from 'constructs';

export interface StageConfig {
  /** dev, prod, or any other name; only dev may lose its data on `cdk destroy`. */
  name: string;
  /** Requests per second across the API, and the burst above it (API Gateway token bucket). */
  throttle: { rateLimit: number; burstLimit: number };
  /** Days the Lambda and access logs are kept. */
  logRetentionDays: 7 | 30 | 90;
  /** POWERTOOLS_LOG_LEVEL of every function. */
  logLevel: 'DEBUG' | 'INFO' | 'WARN';
}

export const isDev = (stage: StageConfig) => stage.name === 'dev';

export function stageConfig(name: string): StageConfig {
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(name))
    throw new Error(`stage "${name}": use lower-case letters, digits and dashes, at most 20`);
  // A hot node item tops out near 500 transactional writes/s (docs/store.md), so the account-wide default of
  // 10,000 rps would only buy Unavailable answers and Lambda bills: cap well below it.
  return name === 'dev'
    ? { name, throttle: { rateLimit: 50, burstLimit: 100 }, logRetentionDays: 7, logLevel: 'DEBUG' }
    : { name, throttle: { rateLimit: 500, burstLimit: 1000 }, logRetentionDays: 90, logLevel: 'INFO' };
}

/** The repository connection the pipeline builds from; all three or none are given. */
export interface PipelineSourceConfig {
  /** owner/name of the repository. */
  repository: string;
  branch: string;
  /** ARN of the CodeConnections (CodeStar Connections) connection to the repository host. */
  connectionArn: string;
}

export function pipelineSourceFromContext(node: Node): PipelineSourceConfig | undefined {
  const read = (key: string) => {
    const value: unknown = node.tryGetContext(key);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const [repository, branch, connectionArn] = [read('repository'), read('branch') ?? 'main', read('connectionArn')];
  if (!repository && !connectionArn) return undefined;
  if (!repository || !connectionArn)
    throw new Error('the pipeline needs both -c repository=owner/name and -c connectionArn=arn:...');
  if (!/^[\w.-]+\/[\w.-]+$/.test(repository)) throw new Error(`repository "${repository}": expected owner/name`);
  return { repository, branch, connectionArn };
}

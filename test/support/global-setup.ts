// One DynamoDB Local for the whole run, on a free port; every test file makes its own table in it.
import { tmpdir } from 'node:os';
import { runPidFile, startDynamoDbLocal, type DynamoDbLocal } from '../../scripts/dynamodb-local';

declare global {
  var __DYNAMODB_LOCAL__: DynamoDbLocal | undefined;
}

export default async function globalSetup(): Promise<void> {
  const db = await startDynamoDbLocal({ pidFile: runPidFile(tmpdir(), 'capacity-tracker-test-') });
  globalThis.__DYNAMODB_LOCAL__ = db;
  // Test workers are started after this and inherit the environment.
  process.env.DYNAMODB_ENDPOINT = db.endpoint;
  process.env.AWS_REGION ??= 'us-east-1';
  // Lambda runs Node 22; the SDK's notice about Node 20 would only clutter local runs.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
}

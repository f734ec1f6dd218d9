// One DynamoDB Local for the whole run, on a free port; every test file makes its own table in it. Only the
// projects that talk to DynamoDB name this setup; they name the same file, and jest runs a setup file once
// per run however many projects name it, so a run that includes both starts one DynamoDB Local.
import { tmpdir } from 'node:os';
import { runPidFile, startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb-local';
import { setTestEnvironment } from './env';

declare global {
  var __DYNAMODB_LOCAL__: DynamoDbLocal | undefined;
}

export default async function globalSetup(): Promise<void> {
  const db = await startDynamoDbLocal({ pidFile: runPidFile(tmpdir(), 'capacity-tracker-test-') });
  globalThis.__DYNAMODB_LOCAL__ = db;
  // Test workers are started after this and inherit the environment.
  process.env.DYNAMODB_ENDPOINT = db.endpoint;
  setTestEnvironment();
}

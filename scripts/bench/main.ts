// npm run bench: claims through the Lambda handlers against bare TransactWriteItems of the same three
// items, on an in-memory DynamoDB Local. The scenarios live in the other modules here (run.ts runs them); this file owns the
// environment and the DynamoDB Local process, which it stops however the run ends.
import { withDynamoDbLocal } from '../../local/with-dynamodb-local';

// The SDK and the Powertools logger read these when they load, so set them before anything imports them
// (run.ts, and through it the handlers, is imported only below).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_REGION ??= 'us-east-1';
// The handlers run in-process as the local runner runs them: open, no IAM caller (docs/security.md, rule W5).
process.env.AUTH = 'open';

async function main(): Promise<void> {
  await withDynamoDbLocal('bench', async (db) => {
    const bench = await import('./run');
    const ok = await bench.runBench({ endpoint: db.endpoint, pid: db.pid });
    if (!ok) process.exitCode = 1;
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

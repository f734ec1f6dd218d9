// What every bench entry (main.ts, units-main.ts, contention-main.ts, pci-main.ts) shares: the environment, and
// an in-memory DynamoDB Local of its own, stopped however the run ends. Import it before anything that loads the SDK.
import { withDynamoDbLocal } from '../../local/with-dynamodb-local';
import type { DynamoDbLocal } from '../../local/dynamodb-local';

// The SDK and the Powertools logger read these when they load, so they are set before the entries import them.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_REGION ??= 'us-east-1';
// The handlers run in-process as the local runner runs them: open, no IAM caller (docs/security.md, rule W5).
process.env.AUTH = 'open';

/** Runs `work` on a fresh DynamoDB Local; the process exits 1 when it answers false or throws. */
export function benchEntry(name: string, work: (db: DynamoDbLocal) => Promise<boolean>): void {
  withDynamoDbLocal(name, async (db) => {
    if (!(await work(db))) process.exitCode = 1;
  }).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

// npm run bench: claims through the Lambda handlers against bare TransactWriteItems of the same three
// items, on an in-memory DynamoDB Local. The scenarios live in bench-run.ts; this file owns the
// environment and the DynamoDB Local process, which it stops however the run ends.
import { tmpdir } from 'node:os';
import { runPidFile, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';

// The SDK and the Powertools logger read these when they load, so set them before anything imports them
// (bench-run.ts, and through it the handlers, is imported only below).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_REGION ??= 'us-east-1';

async function main(): Promise<void> {
  let db: DynamoDbLocal | undefined;
  let bench: typeof import('./bench-run') | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    if (!db) return Promise.resolve();
    const { pid } = db;
    stopping ??= db.stop().then(() => console.log(`DynamoDB Local (pid ${pid}) stopped.`));
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    bench?.silence();
    console.error(`\n${signal}: stopping DynamoDB Local`);
    void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // The PID file lets the next run stop a copy that a killed run left behind (checked by PID and command line).
    db = await startDynamoDbLocal({ pidFile: runPidFile(tmpdir(), 'capacity-tracker-bench-') });
    console.log(`DynamoDB Local (in memory) pid ${db.pid} at ${db.endpoint}`);
    bench = await import('./bench-run');
    const ok = await bench.runBench({ endpoint: db.endpoint, pid: db.pid });
    if (!ok) process.exitCode = 1;
  } finally {
    await stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

// For the long commands (bench, soak): an in-memory DynamoDB Local of their own, stopped however the run
// ends (done, failed, Ctrl-C or SIGTERM), its PID file letting the next run stop a copy a killed run left.
import { tmpdir } from 'node:os';
import { runPidFile, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { silenceProgress } from '../scripts/progress';

export async function withDynamoDbLocal(name: string, work: (db: DynamoDbLocal) => Promise<void>): Promise<void> {
  let db: DynamoDbLocal | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    if (!db) return Promise.resolve();
    const { pid } = db;
    stopping ??= db.stop().then(() => console.log(`DynamoDB Local (pid ${pid}) stopped.`));
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    silenceProgress();
    console.error(`\n${signal}: stopping DynamoDB Local`);
    void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    db = await startDynamoDbLocal({ pidFile: runPidFile(tmpdir(), `capacity-tracker-${name}-`) });
    console.log(`DynamoDB Local (in memory) pid ${db.pid} at ${db.endpoint}`);
    await work(db);
  } finally {
    await stop();
  }
}

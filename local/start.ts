// `npm start`: the HTTP API on this machine, on DynamoDB Local (kept in .data/, or --in-memory) or on the
// DynamoDB that DYNAMODB_ENDPOINT names. Stop it with Ctrl-C.
import { join, relative } from 'node:path';
import { JavaMissingError, runPidFile, startDynamoDbLocal, stopLeftover, type DynamoDbLocal } from './dynamodb-local';
import type { LocalQueue } from './fifo-queue';
import type { FleetFeed } from './fleet-feed';
import type { LocalServer } from './server';

// Before the SDK loads (it is imported below, on demand): its notice about Node 20 is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
// Metrics go to CloudWatch as log lines in AWS; here they would only fill the terminal.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
// The handlers enforce roles from the caller's IAM identity unless told otherwise; nothing signs requests here.
process.env.AUTH = 'open';

const ROOT = join(__dirname, '..');
const DATA_DIR = join(ROOT, '.data');

interface OpenedStore {
  endpoint: string;
  label: string;
  db?: DynamoDbLocal;
}

async function openStore(inMemory: boolean): Promise<OpenedStore> {
  const external = process.env.DYNAMODB_ENDPOINT;
  if (external) return { endpoint: external, label: `external endpoint ${external}` };
  // In-memory runners may run side by side; a persistent one owns .data/ alone.
  const pidFile = inMemory ? runPidFile(DATA_DIR, 'dynamodb-local-memory-') : join(DATA_DIR, 'dynamodb-local.pid');
  try {
    stopLeftover(pidFile);
  } catch {
    throw new Error(
      `another npm start is already running on ${relative(ROOT, DATA_DIR)}/ (see ${relative(ROOT, pidFile)}); stop it first`,
    );
  }
  const db = await startDynamoDbLocal({ pidFile, ...(inMemory ? {} : { dataDir: DATA_DIR }) }).catch(
    (error: unknown) => {
      if (!(error instanceof JavaMissingError)) throw error;
      throw new Error(
        'DynamoDB Local needs Java, which is not installed: run `apt-get install default-jre-headless`, ' +
          'or set DYNAMODB_ENDPOINT to a DynamoDB you already run',
      );
    },
  );
  const where = inMemory ? 'in memory' : `at ${relative(process.cwd(), DATA_DIR) || '.'}/`;
  return { endpoint: db.endpoint, label: `embedded DynamoDB Local ${where} (PID ${db.pid})`, db };
}

/** What is running, filled in as it starts, so that a signal at any point stops what has started. */
interface Running {
  opening: Promise<OpenedStore>;
  server?: LocalServer;
  queue?: LocalQueue;
  feed?: FleetFeed;
}

let stopping = false;

function shutdown(running: Running, signal: NodeJS.Signals): void {
  // Ctrl-C reaches tsx and this process alike, and tsx passes it on: act on the first one only.
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping.`);
  const { server, queue, feed } = running;
  Promise.resolve(server?.close())
    .then(() => feed?.stop())
    // Give the queue's messages a moment to land; what is still queued after that is dropped.
    .then(async () => {
      if (queue && !(await queue.drain(3_000)))
        console.log(`Dropping ${queue.stats().messages} queued status message(s).`);
      return queue?.close();
    })
    .then(() => running.opening)
    .then((store) => store.db?.stop())
    .then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('Stopping failed:', error);
        process.exit(1);
      },
    );
}

async function prepareTable(store: OpenedStore, tableName: string): Promise<void> {
  const { createStore, ensureTable } = await import('../lib/store');
  const client = createStore({ tableName, endpoint: store.endpoint });
  await ensureTable(client);
  client.client.destroy();
  process.env.DYNAMODB_ENDPOINT = store.endpoint;
  console.log(`Store ready: ${store.label}, table ${tableName}.`);
}

/** The fleet summary fed from the table's stream, as the CDK stack's consumer feeds it in AWS (rule G12). */
async function startFeed(running: Running, tableName: string, endpoint: string): Promise<void> {
  const { createStore } = await import('../lib/store');
  const { startFleetFeed } = await import('./fleet-feed');
  running.feed = await startFleetFeed(createStore({ tableName, endpoint }), endpoint);
  console.log('Fleet summary: seeded from the node items, following the table stream; candidates read it.');
}

async function serve(running: Running, port: number, host: string): Promise<string> {
  const { createLocalServer } = await import('./server');
  const { createLocalQueue, localQueueRoutes } = await import('./migration-status-queue');
  const { handler } = await import('../functions/migration-status-queue');
  // The queue's receive count (rule OP1); its visibility timeout shortened, as nothing here is throttled.
  const queue = (running.queue = createLocalQueue({ handler, visibilityTimeoutMs: 2_000 }));
  const { webFile } = await import('../scripts/web-files');
  running.server = createLocalServer({ port, host, localRoutes: localQueueRoutes(queue), staticFiles: webFile });
  return (await running.server.listen()).url;
}

/** What the deployed stack enforces instead, said at start so nobody takes the open mode for the real one. */
const ROLES_IN_AWS =
  'In AWS the caller needs a role (AUTH=open is set here, never there): an agent acts on its own node only, ' +
  'the scheduler claims and moves anywhere and may pass limits, the operator reads everything and deletes';

async function printWelcome(url: string, port: number, host: string): Promise<void> {
  const { MIGRATION_STATUS_PATH } = await import('./migration-status-queue');
  const { hostNames } = await import('./edge');
  console.log(`capacity-tracker listening on ${url} (PID ${process.pid}); Ctrl-C stops it.`);
  // In AWS, IAM authorizes every call; here nothing does, so whoever reaches the port may change the ledger.
  const names = hostNames(host);
  const reach =
    names === 'any'
      ? `on every interface (HOST=${host}), under any Host name`
      : `at ${[...names].join(', ')} on this machine only`;
  console.log(`Open: no authorization, as a local runner; it answers ${reach}.`);
  console.log(`${ROLES_IN_AWS} (docs/security.md).`);
  // The CLI's default endpoint is this runner on its default port.
  const cli = port === 3000 ? 'npx capacity-tracker nodes' : `npx capacity-tracker --endpoint ${url} nodes`;
  console.log(`Capacity page: ${url}/ ; OpenAPI document: ${url}/openapi.json ; CLI: ${cli}`);
  console.log(
    `Try: curl -i -X PUT ${url}/nodes/n0 -H 'content-type: application/json' -d '{"vcpus": 4, "memoryMb": 512, "localGb": 6}'`,
  );
  console.log(
    `Migration status queue (in-memory SQS FIFO, local only): curl -i -X POST ${url}${MIGRATION_STATUS_PATH} ` +
      `-H 'content-type: application/json' -d '{"migrationId": "m1", "status": "finished", "sequence": 1}'; ` +
      'GET it for its figures and dead letters.',
  );
}

/**
 * Nova audits every node each minute; in AWS a scheduled round fans the fleet out in slices (rule A5), and
 * this timer runs the same round in process: the same planner and slice handlers, one round at a time.
 */
async function startAudits(): Promise<void> {
  const every = Number(process.env.AUDIT_INTERVAL_SECONDS ?? 60);
  if (every <= 0) return;
  const { runAuditRound } = await import('./audit-round');
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    runAuditRound()
      .then(
        (r) => {
          const repaired = r.results.flatMap((s) => s.repaired);
          if (repaired.length) console.log(`Audit repaired drift on ${repaired.join(', ')}.`);
          for (const f of r.failed) console.error(`Audit slice ${f.index} failed: ${f.error}`);
        },
        (error: unknown) => console.error('Audit failed:', (error as Error).message),
      )
      .finally(() => (running = false));
  }, every * 1000);
  timer.unref();
  console.log(`Auditing every node every ${every} s (AUDIT_INTERVAL_SECONDS, 0 = off).`);
}

async function main(): Promise<void> {
  const inMemory = process.argv.includes('--in-memory');
  const tableName = (process.env.TABLE_NAME ||= 'capacity-tracker');
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST || '127.0.0.1';

  const running: Running = { opening: openStore(inMemory) };
  // Installed before anything starts, so that a signal during start-up stops DynamoDB Local as well.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, (s) => shutdown(running, s));

  const store = await running.opening;
  try {
    await prepareTable(store, tableName);
    // Only on the embedded store: a DynamoDB named by DYNAMODB_ENDPOINT keeps its own stream settings.
    if (store.db) await startFeed(running, tableName, store.endpoint);
    const url = await serve(running, port, host);
    await printWelcome(url, port, host);
    await startAudits();
  } catch (error) {
    await store.db?.stop();
    throw error;
  }
}

main().catch((error: unknown) => {
  if (stopping) return;
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'EADDRINUSE' ? `port ${process.env.PORT ?? 3000} is in use (set PORT)` : (error as Error).message;
  console.error(`capacity-tracker did not start: ${reason}`);
  process.exit(1);
});

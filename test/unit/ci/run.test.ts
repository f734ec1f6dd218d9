// .ci/run on a copy of the checkout with stand-ins for npm and java on the PATH: an install that rewrites
// package-lock.json fails the run before the tests, with the reason; an install that leaves it alone goes on.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const LOCK = '{"name": "capacity-tracker", "lockfileVersion": 3}\n';

function checkout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ci-run-'));
  mkdirSync(join(dir, '.ci'));
  copyFileSync(join(ROOT, '.ci', 'run'), join(dir, '.ci', 'run'));
  writeFileSync(join(dir, 'package-lock.json'), LOCK);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  // `npm install` rewrites the lock when REWRITE_LOCK is set; `npm test` only says that it ran.
  const npm = [
    '#!/bin/sh',
    'if [ "$1" = install ]; then [ -n "$REWRITE_LOCK" ] && echo "  " >> package-lock.json; exit 0; fi',
    'if [ "$1" = test ]; then echo "tests ran"; exit 0; fi',
    'exit 1',
  ];
  writeFileSync(join(bin, 'npm'), npm.join('\n') + '\n');
  writeFileSync(join(bin, 'java'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(bin, 'npm'), 0o755);
  chmodSync(join(bin, 'java'), 0o755);
  return dir;
}

function ciRun(dir: string, env: Record<string, string> = {}) {
  return spawnSync('bash', [join(dir, '.ci', 'run')], {
    encoding: 'utf8',
    env: { ...process.env, ...env, PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}` },
  });
}

describe('.ci/run', () => {
  let dir: string;
  beforeEach(() => {
    dir = checkout();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('fails, before the tests, when npm install changes package-lock.json', () => {
    const run = ciRun(dir, { REWRITE_LOCK: '1' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('npm install changed package-lock.json');
    expect(run.stdout).not.toContain('tests ran');
  });

  it('runs the tests when the lock stays as committed', () => {
    const run = ciRun(dir);
    expect([run.status, run.stdout]).toEqual([0, 'tests ran\n']);
    expect(readFileSync(join(dir, 'package-lock.json'), 'utf8')).toBe(LOCK);
  });
});

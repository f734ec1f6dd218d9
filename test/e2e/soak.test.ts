// npm run soak as a developer runs it, from a shell without the tests' environment: its own DynamoDB Local, a
// short target, a clean report, and nothing of it left running.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../support/runner';

test('a short soak runs a clean campaign against its own DynamoDB Local and stops it', async () => {
  // Not the tests' open mode, store or table: the soak sets what it needs itself.
  const { AUTH: _auth, DYNAMODB_ENDPOINT: _endpoint, TABLE_NAME: _table, ...env } = process.env;
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      join(ROOT, 'node_modules', '.bin', 'tsx'),
      ['scripts/soak.ts'],
      { cwd: ROOT, env: { ...env, SOAK_OPS: '300', CAMPAIGN_SEED: '1' }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
  expect(out.stdout).toMatch(/^clean: [1-9]\d* operations/m);
  expect(out.code).toBe(0);
  const pid = Number(/DynamoDB Local \(in memory\) pid (\d+)/.exec(out.stdout)?.[1]);
  expect(pid).toBeGreaterThan(0);
  expect(() => process.kill(pid, 0)).toThrow();
}, 120_000);

// The CLI's placement commands (candidates, place, group) against the local runner.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { N0 } from '../support/contract';
import { ROOT, START_TIMEOUT_MS, startRunner, type Runner } from '../support/runner';

let runner: Runner;

beforeAll(async () => {
  runner = await startRunner('cli-place');
}, START_TIMEOUT_MS + 15_000);

afterAll(async () => {
  await runner?.stop();
}, 20_000);

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { CAPACITY_TRACKER_ENDPOINT: _e, ...env } = process.env;
    const argv = ['bin/capacity-tracker.js', '--endpoint', runner.url, ...args];
    execFile(process.execPath, argv, { cwd: ROOT, env: { ...env, NO_COLOR: '' } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const put = (nodeId: string, body: unknown) =>
  fetch(`${runner.url}/nodes/${nodeId}`, {
    method: 'PUT',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

it('lists candidates, places into an anti-affinity group until no host is valid, and shows the group', async () => {
  await put('cp-a', { ...N0, traits: ['CUSTOM_CLI'], aggregates: ['cli'] });
  await put('cp-b', { ...N0, memoryMb: 1024, traits: ['CUSTOM_CLI'], aggregates: ['cli'] });
  const found = await cli('candidates', '--flavor', '1:128:1', '--required', 'CUSTOM_CLI', '--member-of', 'cli');
  expect([found.code, found.stderr]).toEqual([0, '']);
  expect(
    found.stdout
      .split('\n')
      .slice(1, 3)
      .map((l) => l.split(' ')[0]),
  ).toEqual(['cp-b', 'cp-a']);

  expect((await cli('group', 'put', 'cli-g', '--policy', 'anti-affinity')).stdout).toContain(
    'Created server group cli-g',
  );
  const uuid = randomUUID();
  const placed = await cli('place', '--flavor', '1:128:1', '--uuid', uuid, '--group', 'cli-g', '--member-of', 'cli');
  expect([placed.code, placed.stderr]).toEqual([0, '']);
  expect(placed.stdout).toBe(`Placed ${uuid} on cp-b (1 try): 1 vCPU, 128 MB, 1 GB.\n`);
  const again = await cli('place', '--flavor', '1:128:1', '--uuid', uuid, '--group', 'cli-g', '--member-of', 'cli');
  expect(again.stdout).toContain(`Already placed (a retry): ${uuid} on cp-b`);
  expect((await cli('place', '--flavor', '1:128:1', '--group', 'cli-g', '--member-of', 'cli')).code).toBe(0);
  const full = await cli('place', '--flavor', '1:128:1', '--group', 'cli-g', '--member-of', 'cli');
  expect(full.code).toBe(1);
  expect(full.stderr).toContain('NoValidHost: No valid host was found. There are not enough hosts available.');
  const shown = await cli('group', 'show', 'cli-g');
  expect(shown.stdout).toContain('Server group cli-g: anti-affinity, 2 member(s)');
  expect(shown.stdout).toContain(`${uuid} on cp-b`);
  expect((await cli('group', 'delete', 'cli-g')).stderr).toContain('GroupInUse');
});

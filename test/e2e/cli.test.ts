// The CLI as an operator runs it (node bin/capacity-tracker.js, and once through npx), against the local runner.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from '../../local/dynamodb-local';
import { N0 } from '../support/contract';
import { ROOT, START_TIMEOUT_MS, startRunner, type Runner } from '../support/runner';

let runner: Runner;

beforeAll(async () => {
  runner = await startRunner('cli');
}, START_TIMEOUT_MS + 15_000);

afterAll(async () => {
  await runner?.stop();
}, 20_000);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const { CAPACITY_TRACKER_ENDPOINT: _e, ...env } = process.env;
    const child = execFile(file, args, { cwd: ROOT, env: { ...env, NO_COLOR: '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

const cli = (...args: string[]) =>
  run(process.execPath, ['bin/capacity-tracker.js', '--endpoint', runner.url, ...args]);
const cliWithStdin = (stdin: string, ...args: string[]) =>
  run(process.execPath, ['bin/capacity-tracker.js', '--endpoint', runner.url, ...args], stdin);

async function json(...args: string[]) {
  const r = await cli(...args, '--json');
  expect([r.code, r.stderr]).toEqual([0, '']);
  return JSON.parse(r.stdout);
}

describe('capacity-tracker', () => {
  it('registers a node from a file, then replaces its inventory', async () => {
    const first = await cli('node', 'put', 'cli-file', '--file', join(ROOT, 'docs', 'example-inventory.json'));
    expect([first.code, first.stderr]).toEqual([0, '']);
    expect(first.stdout).toContain('Registered cli-file.');
    expect(first.stdout).toContain('cli-file now uses vCPU 1/16, memory 2,048/65,536 MB, disk 10/500 GB');
    const again = await cliWithStdin(JSON.stringify(N0), 'node', 'put', 'cli-file', '--file', '-');
    expect(again.stdout).toContain('Replaced the inventory of cli-file.');
  });

  it('claims, shows the node with bars, lists it, and releases (worked examples 3 and 5)', async () => {
    await cliWithStdin(JSON.stringify(N0), 'node', 'put', 'cli-n0', '--file', '-');
    const uuid = randomUUID();
    const claim = await cli('claim', 'cli-n0', '--flavor', '1:128:1', '--uuid', uuid, '--state', 'active');
    expect([claim.code, claim.stderr]).toEqual([0, '']);
    expect(claim.stdout).toContain(`Claimed ${uuid} on cli-n0: 1 vCPU, 128 MB, 1 GB.`);
    expect(claim.stdout).toContain('cli-n0 now uses vCPU 1/4, memory 128/512 MB, disk 1/6 GB; free 384 MB, 5 GB');
    expect((await cli('claim', 'cli-n0', '--flavor', '1:128:1', '--uuid', uuid, '--state', 'active')).stdout).toContain(
      'Already claimed (a retry)',
    );

    const show = await cli('node', 'show', 'cli-n0');
    expect(show.stdout).toMatch(/memory MB\s+\S+\s+128\s+512\s+384\s+0\s+1\.5\s+768/);
    expect(show.stdout).toContain(uuid);

    const table = await cli('nodes');
    const row = table.stdout.split('\n').find((l) => l.startsWith('cli-n0 '));
    expect(row).toMatch(/^cli-n0\s+[▏▎▍▌▋▊▉█]+·+ 1\/4\s+█+[▏▎▍▌▋▊▉]?░+·+ 128\/512\s+█+[▏▎▍▌▋▊▉]?░+ 1\/6\s+-\s+1$/);
    expect(table.stdout).not.toContain('\x1b['); // not a terminal: no colours

    const listed = await json('nodes');
    expect(listed.nodes.find((n: { nodeId: string }) => n.nodeId === 'cli-n0')).toMatchObject({
      memoryMbUsed: 128,
      localGbUsed: 1,
      vcpusUsed: 1,
      freeRamMb: 384,
    });

    expect((await cli('release', 'cli-n0', uuid)).code).toBe(0);
    expect((await cli('release', 'cli-n0', uuid)).code).toBe(0);
    expect(await json('node', 'show', 'cli-n0')).toMatchObject({
      memoryMbUsed: 0,
      localGbUsed: 0,
      vcpusUsed: 0,
      freeRamMb: 512,
      freeDiskGb: 6,
    });
  });

  it("prints the service's refusal and exits 1 (worked example 6)", async () => {
    await cliWithStdin(JSON.stringify(N0), 'node', 'put', 'cli-full', '--file', '-');
    const refused = await cli('claim', 'cli-full', '--flavor', '1:1024:1');
    expect(refused.code).toBe(1);
    // Without --uuid the CLI chose the instance's UUID: it names it, so the claim can be sent again.
    const [chosen, error, rest] = refused.stderr.split('\n');
    expect(chosen).toMatch(/^The claim used instance UUID ([0-9a-f-]{36}): retry it with --uuid \1\.$/);
    expect(error).toBe(
      'capacity-tracker: InsufficientResources: Insufficient compute resources: Free memory 768.00 MB < requested 1024 MB.',
    );
    expect(rest).toBe('');
    const missing = await cli('node', 'show', 'cli-nowhere');
    expect([missing.code, missing.stderr]).toEqual([
      1,
      'capacity-tracker: NodeNotFound: Node cli-nowhere is not registered.\n',
    ]);
    const invalid = await cliWithStdin(
      '{"vcpus": -1, "memoryMb": 1, "localGb": 1}',
      'node',
      'put',
      'cli-bad',
      '--file',
      '-',
    );
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^capacity-tracker: ValidationError: Invalid body: vcpus: /);
  });

  it('moves an instance: a same-host resize, then confirmed (worked example 8)', async () => {
    await cliWithStdin(JSON.stringify(N0), 'node', 'put', 'cli-move', '--file', '-');
    const uuid = randomUUID();
    await cli('claim', 'cli-move', '--flavor', '1:128:1', '--uuid', uuid);
    const move = await cli(
      'migrate',
      'cli-move',
      '--instance',
      uuid,
      '--from',
      'cli-move',
      '--flavor',
      '2:256:5',
      '--id',
      'cli-m8',
    );
    expect([move.code, move.stderr]).toEqual([0, '']);
    expect(move.stdout).toContain('Migration cli-m8 (resize)');
    expect(move.stdout).toContain('cli-move now uses vCPU 3/4, memory 384/512 MB, disk 6/6 GB; free 128 MB, 0 GB');
    const confirmed = await cli('status', 'cli-m8', 'confirmed');
    expect(confirmed.stdout).toContain('cli-m8 (resize)');
    expect(confirmed.stdout).toContain(': confirmed,');
    expect(await json('node', 'show', 'cli-move')).toMatchObject({
      memoryMbUsed: 256,
      localGbUsed: 5,
      vcpusUsed: 2,
      freeRamMb: 256,
      freeDiskGb: 1,
    });
    const late = await cli('status', 'cli-m8', 'finished');
    expect(late.stdout).toContain('Not applied');
    expect((await cli('migration', 'cli-m8')).stdout).toContain('confirmed');
  });

  it('live-migrates an instance: accepted, then completed moves it; --flavor is a usage error', async () => {
    for (const n of ['cli-live-a', 'cli-live-b'])
      await cliWithStdin(JSON.stringify(N0), 'node', 'put', n, '--file', '-');
    const uuid = randomUUID();
    await cli('claim', 'cli-live-a', '--flavor', '1:128:1', '--uuid', uuid, '--state', 'active');
    const args = ['migrate', 'cli-live-b', '--instance', uuid, '--from', 'cli-live-a', '--type', 'live-migration'];
    const flavored = await cli(...args, '--flavor', '2:256:5');
    expect(flavored.code).toBe(2);
    expect(flavored.stderr).toContain("a live migration keeps the instance's flavor");
    const move = await cli(...args, '--id', 'cli-live');
    expect([move.code, move.stderr]).toEqual([0, '']);
    expect(move.stdout).toContain('Migration cli-live (live-migration)');
    expect(move.stdout).toContain(': accepted, sequence 0.');
    expect((await cli('status', 'cli-live', 'running')).stdout).toContain(': running,');
    expect((await cli('status', 'cli-live', 'completed')).stdout).toContain(': completed,');
    expect(await json('node', 'show', 'cli-live-a')).toMatchObject({ memoryMbUsed: 0, vcpusUsed: 0 });
    expect(await json('node', 'show', 'cli-live-b')).toMatchObject({ memoryMbUsed: 128, vcpusUsed: 1, runningVms: 1 });
  });

  it('audits a node', async () => {
    await cliWithStdin(JSON.stringify(N0), 'node', 'put', 'cli-audit', '--file', '-');
    const clean = await cli('audit', 'cli-audit');
    expect(clean.stdout).toContain('Audited cli-audit: no drift.');
    const orphan = randomUUID();
    const body = JSON.stringify({ instances: [orphan], orphans: [{ instanceUuid: orphan, memoryMb: 64 }] });
    const drift = await cliWithStdin(body, 'audit', 'cli-audit', '--file', '-');
    expect(drift.stdout).toContain('drift memory +64 MB, disk 0 GB, vCPU 0 (repaired)');
    expect(drift.stdout).toContain(`running but not tracked: ${orphan}`);
  });

  it('tells usage errors (exit 2) from an endpoint that does not answer (exit 1)', async () => {
    const flavor = await cli('claim', 'cli-n0', '--flavor', 'large');
    expect(flavor.code).toBe(2);
    expect(flavor.stderr).toContain('--flavor large: give VCPUS:MEMORY_MB:ROOT_GB');
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('nodes', '--colour')).stderr).toContain('unknown option --colour');
    const help = await cli('--help');
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining('Usage: capacity-tracker')]);
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const down = await run(process.execPath, ['bin/capacity-tracker.js', '--endpoint', nobody, 'nodes']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`capacity-tracker: cannot reach ${nobody} (ECONNREFUSED)`);
  });

  it('runs as `npx capacity-tracker` from the checkout', async () => {
    const r = await run('npx', ['--no-install', 'capacity-tracker', '--endpoint', runner.url, 'nodes', '--json']);
    expect(r.code).toBe(0);
    expect(Array.isArray(JSON.parse(r.stdout).nodes)).toBe(true);
  });
});

// The runner (`npm start`) as a user meets it: a child process serving the HTTP API, driven over real HTTP.
// Jest's global setup provides the DynamoDB Local; this file gets a table of its own.
import { randomUUID } from 'node:crypto';
import { START_TIMEOUT_MS, startRunner, type Runner } from '../support/runner';

let runner: Runner | undefined;

beforeAll(async () => {
  runner = await startRunner('e2e');
}, START_TIMEOUT_MS + 15_000);

afterAll(async () => {
  await runner?.stop();
}, 20_000);

interface Answer {
  status: number;
  headers: Headers;
  // Parsed JSON; the tests look into it freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  if (!runner) throw new Error('the runner is not running');
  const res = await fetch(`${runner.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

const N0 = {
  vcpus: 4,
  memoryMb: 512,
  localGb: 6,
  cpuAllocationRatio: 16,
  ramAllocationRatio: 1.5,
  diskAllocationRatio: 1,
  reservedHostMemoryMb: 0,
  reservedHostDiskMb: 0,
  reservedHostCpus: 0,
};
const F1 = { vcpus: 1, memoryMb: 128, rootGb: 1, ephemeralGb: 0, swapMb: 0 };

function claimOf(instanceUuid: string, extra: Record<string, unknown> = {}) {
  return {
    instanceUuid,
    flavor: F1,
    vmState: 'active',
    taskState: null,
    osType: 'fake-os',
    projectId: 'fake-project',
    ...extra,
  };
}

async function registerN0(nodeId: string): Promise<void> {
  expect((await call('PUT', `/nodes/${nodeId}`, N0)).status).toBe(201);
}

/** used a/b/c and free x/y of the node view, with its running VMs. */
async function figures(nodeId: string) {
  const { status, body } = await call('GET', `/nodes/${nodeId}`);
  expect(status).toBe(200);
  return {
    used: [body.memoryMbUsed, body.localGbUsed, body.vcpusUsed],
    free: [body.freeRamMb, body.freeDiskGb],
    runningVms: body.runningVms,
    stats: body.stats,
  };
}

/** The node's stats with I1's keys (vm active, task None, fake-os, fake-project) at `n`; none at 0 (rule S6). */
function statsOfI1(n: number) {
  const keys = ['num_instances', 'num_vm_active', 'num_task_None', 'num_os_type_fake-os', 'num_proj_fake-project'];
  return { ...(n ? Object.fromEntries(keys.map((k) => [k, n])) : {}), io_workload: 0 };
}

/** Ex 3: N0 with I1 = F1 claimed on it. */
async function n0WithI1(nodeId: string): Promise<string> {
  await registerN0(nodeId);
  const i1 = randomUUID();
  const claim = await call('POST', `/nodes/${nodeId}/instances`, claimOf(i1));
  expect(claim.status).toBe(201);
  return i1;
}

describe('the ledger over HTTP', () => {
  it('Ex 3: a claim of F1 on N0 uses 128/1/1 and counts the instance in the stats', async () => {
    await n0WithI1('ex3');
    expect(await figures('ex3')).toEqual({
      used: [128, 1, 1],
      free: [384, 5],
      runningVms: 1,
      stats: statsOfI1(1),
    });
  });

  it('Ex 4: shelving I1 off the node releases its resources and leaves no stats key', async () => {
    const i1 = await n0WithI1('ex4');
    const change = await call('PATCH', `/nodes/ex4/instances/${i1}`, { vmState: 'shelved_offloaded' });
    expect(change.status).toBe(200);
    expect(change.body).toMatchObject({ instanceUuid: i1, vmState: 'shelved_offloaded', tracked: false });
    expect(await figures('ex4')).toEqual({
      used: [0, 0, 0],
      free: [512, 6],
      runningVms: 0,
      stats: statsOfI1(0),
    });
  });

  it('Ex 5: releasing I1 frees its resources, and releasing it again changes nothing', async () => {
    const i1 = await n0WithI1('ex5');
    const release = await call('DELETE', `/nodes/ex5/instances/${i1}`);
    expect(release.status).toBe(204);
    expect(release.body).toBeUndefined();
    const after = await call('GET', '/nodes/ex5');
    expect([after.body.memoryMbUsed, after.body.localGbUsed, after.body.vcpusUsed]).toEqual([0, 0, 0]);
    expect([after.body.freeRamMb, after.body.freeDiskGb]).toEqual([512, 6]);

    expect((await call('DELETE', `/nodes/ex5/instances/${i1}`)).status).toBe(204);
    expect((await call('GET', '/nodes/ex5')).body).toEqual(after.body);
  });

  it.each([
    [{ memoryMb: 0 }, 'Insufficient compute resources: Free memory 0.00 MB < requested 128 MB.'],
    [{ diskGb: 0 }, 'Insufficient compute resources: Free disk 0.00 GB < requested 1 GB.'],
    [{ vcpus: 0 }, 'Insufficient compute resources: Free vcpu 0.00 VCPU < requested 1 VCPU.'],
  ])('Ex 6: a claim over the limits %j is refused with 409 and leaves the node as it was', async (limits, message) => {
    const nodeId = `ex6-${Object.keys(limits)[0]}`;
    await registerN0(nodeId);
    const before = await call('GET', `/nodes/${nodeId}`);

    const claim = await call('POST', `/nodes/${nodeId}/instances`, claimOf(randomUUID(), { limits }));
    expect(claim.status).toBe(409);
    expect(claim.body.error).toBe('InsufficientResources');
    expect(claim.body.message).toBe(message);

    const after = await call('GET', `/nodes/${nodeId}`);
    expect(after.body.generation).toBe(before.body.generation);
    expect([after.body.memoryMbUsed, after.body.localGbUsed, after.body.vcpusUsed]).toEqual([0, 0, 0]);
    expect(after.body).toEqual(before.body);
  });

  it('answers a retried claim with 200 and the same claim, counted once', async () => {
    await registerN0('retry');
    const i1 = randomUUID();
    const first = await call('POST', '/nodes/retry/instances', claimOf(i1));
    const retry = await call('POST', '/nodes/retry/instances', claimOf(i1));
    expect(first.status).toBe(201);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    expect((await figures('retry')).used).toEqual([128, 1, 1]);
  });

  it('leaves the node view out of a claim answer when asked for return=minimal', async () => {
    await registerN0('minimal');
    const lean = await call('POST', '/nodes/minimal/instances', claimOf(randomUUID()), { prefer: 'return=minimal' });
    expect(lean.status).toBe(201);
    expect(lean.body).not.toHaveProperty('node');
    expect(lean.body).toMatchObject({ nodeId: 'minimal', memoryMb: 128, diskGb: 1, vcpus: 1 });

    const full = await call('POST', '/nodes/minimal/instances', claimOf(randomUUID()));
    expect(full.status).toBe(201);
    expect(full.body.node).toMatchObject({ nodeId: 'minimal', memoryMbUsed: 256, localGbUsed: 2, vcpusUsed: 2 });
  });

  it('answers 201 to the first PUT of a node and 200 to the next', async () => {
    const first = await call('PUT', '/nodes/twice', N0);
    const second = await call('PUT', '/nodes/twice', N0);
    expect([first.status, second.status]).toEqual([201, 200]);
    expect(second.body).toMatchObject({ nodeId: 'twice', vcpus: 4, memoryMb: 512, localGb: 6 });
  });

  it('answers malformed JSON with 400 ValidationError', async () => {
    const answer = await call('PUT', '/nodes/bad-json', '{"vcpus": 4,');
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('ValidationError');
    expect(answer.body.message).toMatch(/JSON/);
    expect((await call('GET', '/nodes/bad-json')).status).toBe(404);
  });
});

describe('the local runner', () => {
  it('answers an unknown route with 404 RouteNotFound', async () => {
    const answer = await call('GET', '/x');
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ error: 'RouteNotFound', message: 'No route for GET /x.' });
  });

  it('answers a known path with the wrong method with 405 and the allowed methods', async () => {
    const answer = await call('POST', '/nodes');
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('GET, HEAD');
    expect(answer.body.error).toBe('MethodNotAllowed');
  });

  it('decodes the path before routing, as API Gateway HTTP API does', async () => {
    expect((await call('PUT', '/nodes/pct%2Dnode', N0)).body.nodeId).toBe('pct-node');
    expect((await call('GET', '/nodes/pct-node')).status).toBe(200);
    // An encoded slash splits the path there as well.
    expect((await call('GET', '/nodes/a%2Fb')).body.error).toBe('RouteNotFound');
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const answer = await call('PUT', '/nodes/big', `{"pad": "${'x'.repeat(1024 * 1024)}"}`);
    expect(answer.status).toBe(413);
    expect(answer.body.error).toBe('PayloadTooLarge');
  });

  it('says at start that it runs open, and where it answers', async () => {
    const line =
      'Open: no authorization, as a local runner; it answers at localhost, 127.0.0.1, [::1] on this machine only.';
    // The runner prints it just after it starts listening, so it may come a moment after the first answer.
    for (let i = 0; i < 100 && !runner!.output().includes(line); i++) await new Promise((r) => setTimeout(r, 50));
    expect(runner!.output()).toContain(line);
    expect(runner!.output()).toContain('In AWS the caller needs a role (AUTH=open is set here, never there)');
  });

  it('stops on SIGTERM and exits with 0', async () => {
    const { child, exited } = runner!;
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(runner!.output()).toContain('SIGTERM: stopping.');
  }, 20_000);
});

// Who may change what, enforced (rules W1-W5): for every route an agent of one node is refused on another node
// with 403 Forbidden and nothing changes; an agent works on its own node; limits are the scheduler's; the operator
// reads and deletes; the scheduler claims anywhere; a request with no role's identity is refused.
import type { Identity } from '../../local/events';
import { ROUTES, type HttpOperationId } from '../../lib/operations';
import { api, type Reply } from '../support/api';
import { F1, F2, N0, uuid } from '../support/fixtures';
import { freshTable } from '../support/table';

const agent = (nodeId: string): Identity => ({ role: 'agent', session: nodeId });
const SCHEDULER: Identity = { role: 'scheduler', session: 'nova-scheduler' };
const OPERATOR: Identity = { role: 'operator', session: 'alice' };

type Call = [method: string, path: string, body?: unknown];
const as = (who: Identity | undefined, [method, path, body]: Call): Promise<Reply> => api(method, path, body, {}, who);

let seq = 0;
const fresh = (prefix: string) => `${prefix}-${++seq}`;

// n is the agent's node; m holds instance i1, which is moving to p as migration mig1.
const n = fresh('n');
const m = fresh('m');
const p = fresh('p');
const i1 = uuid();
const mig1 = fresh('mig');
const g1 = fresh('g');
const claimBody = (instanceUuid: string) => ({ instanceUuid, flavor: F1, vmState: 'active', taskState: null });
const moveBody = (migrationId: string, instanceUuid: string, sourceNodeId: string) => ({
  migrationId,
  instanceUuid,
  moveType: 'migration',
  sourceNodeId,
});

const savedAuth = process.env.AUTH;
beforeAll(async () => {
  await freshTable('roles');
  // Enforcing, as in AWS: the harness runs the handlers open otherwise.
  process.env.AUTH = 'iam';
  for (const id of [n, m, p]) expect((await as(agent(id), ['PUT', `/nodes/${id}`, N0])).status).toBe(201);
  expect((await as(SCHEDULER, ['POST', `/nodes/${m}/instances`, claimBody(i1)])).status).toBe(201);
  expect((await as(SCHEDULER, ['POST', `/nodes/${p}/move-claims`, moveBody(mig1, i1, m)])).status).toBe(201);
  expect((await as(SCHEDULER, ['PUT', `/server-groups/${g1}`, { policy: 'anti-affinity' }])).status).toBe(201);
});
afterAll(() => {
  process.env.AUTH = savedAuth;
});

/** What the ledger says about m, p, i1 and mig1, read by the operator. */
async function ledger(): Promise<unknown[]> {
  const reads: Call[] = [
    ['GET', '/nodes'],
    ['GET', `/nodes/${m}`],
    ['GET', `/nodes/${p}`],
    ['GET', `/nodes/${n}`],
    ['GET', `/nodes/${m}/instances`],
    ['GET', `/nodes/${p}/instances`],
    ['GET', `/migrations/${mig1}`],
    ['GET', `/server-groups/${g1}`],
  ];
  const replies = await Promise.all(reads.map((call) => as(OPERATOR, call)));
  for (const reply of replies) expect(reply.status).toBe(200);
  return replies.map((r) => r.body);
}

/** Every route, aimed at node m (or its migration) where it takes one: what an agent of n must not do. */
const ON_OTHER_NODE: Record<HttpOperationId, Call> = {
  listNodes: ['GET', '/nodes'],
  putNode: ['PUT', `/nodes/${m}`, { ...N0, vcpus: 64 }],
  getNode: ['GET', `/nodes/${m}`],
  deleteNode: ['DELETE', `/nodes/${m}`],
  claimInstance: ['POST', `/nodes/${m}/instances`, claimBody(uuid())],
  listInstances: ['GET', `/nodes/${m}/instances`],
  getInstance: ['GET', `/nodes/${m}/instances/${i1}`],
  updateInstance: ['PATCH', `/nodes/${m}/instances/${i1}`, { vmState: 'deleted' }],
  releaseInstance: ['DELETE', `/nodes/${m}/instances/${i1}`],
  claimMove: [
    'POST',
    `/nodes/${m}/move-claims`,
    { ...moveBody(fresh('mig'), i1, m), moveType: 'resize', newFlavor: F2 },
  ],
  dropMoveClaim: ['DELETE', `/nodes/${p}/move-claims/${mig1}`],
  getMigration: ['GET', `/migrations/${mig1}`],
  updateMigrationStatus: ['POST', `/migrations/${mig1}/status`, { status: 'cancelled' }],
  auditNode: ['POST', `/nodes/${m}/audit`, { instances: [] }],
  // Placement's routes name no node: no agent may use them at all (rule W4).
  getCandidates: ['GET', '/candidates?vcpus=1'],
  postCandidates: ['POST', '/candidates', { flavor: F1 }],
  createPlacement: ['POST', '/placements', claimBody(uuid())],
  putServerGroup: ['PUT', `/server-groups/${g1}`, { policy: 'anti-affinity' }],
  getServerGroup: ['GET', `/server-groups/${g1}`],
  deleteServerGroup: ['DELETE', `/server-groups/${g1}`],
};

function expectForbidden(reply: Reply): void {
  expect([reply.status, reply.body.error]).toEqual([403, 'Forbidden']);
  expect(reply.body.message).toMatch(/^[A-Z].+\.$/);
}

test('the table of calls names every route', () => {
  expect(Object.keys(ON_OTHER_NODE).sort()).toEqual(ROUTES.map((r) => r.id).sort());
});

describe.each(ROUTES.map((r) => [r.id, r.method, r.path] as const))('%s (%s %s)', (id) => {
  test('an agent of n on node m, or on a migration from m to p: 403 Forbidden, nothing changed', async () => {
    const before = await ledger();
    expectForbidden(await as(agent(n), ON_OTHER_NODE[id]));
    expect(await ledger()).toEqual(before);
  });

  test('no identity, or a role that is none of the three: 403 Forbidden, nothing changed', async () => {
    const before = await ledger();
    const reply = await as(undefined, ON_OTHER_NODE[id]);
    expectForbidden(reply);
    expect(reply.body.message).toContain('(no IAM identity)');
    expectForbidden(await as({ role: 'operator', session: 'eve', roleName: 'AdministratorAccess' }, ON_OTHER_NODE[id]));
    expect(await ledger()).toEqual(before);
  });
});

describe('an agent on its own node', () => {
  test('registers, reads, claims, changes, audits, moves, reports and releases there', async () => {
    const me = agent(n);
    const i2 = uuid();
    const mig2 = fresh('mig');
    const steps: [Call, number][] = [
      [['PUT', `/nodes/${n}`, N0], 200],
      [['GET', `/nodes/${n}`], 200],
      [['POST', `/nodes/${n}/instances`, claimBody(i2)], 201],
      [['GET', `/nodes/${n}/instances`], 200],
      [['GET', `/nodes/${n}/instances/${i2}`], 200],
      [['PATCH', `/nodes/${n}/instances/${i2}`, { taskState: null, projectId: 'p1' }], 200],
      [['POST', `/nodes/${n}/audit`, { instances: [i2] }], 200],
      [['POST', `/nodes/${n}/move-claims`, { ...moveBody(mig2, i2, n), moveType: 'resize', newFlavor: F2 }], 201],
      [['GET', `/migrations/${mig2}`], 200],
      [['POST', `/migrations/${mig2}/status`, { status: 'migrating' }], 200],
      [['DELETE', `/nodes/${n}/move-claims/${mig2}?flavor=old`], 204],
      [['DELETE', `/nodes/${n}/instances/${i2}`], 204],
    ];
    for (const [call, status] of steps) expect([call, (await as(me, call)).status]).toEqual([call, status]);
  });

  test('reads a migration that leaves its node or reaches it', async () => {
    expect((await as(agent(m), ['GET', `/migrations/${mig1}`])).body.destNodeId).toBe(p);
    expect((await as(agent(p), ['GET', `/migrations/${mig1}`])).body.sourceNodeId).toBe(m);
  });

  test('may not list the fleet or delete its own node', async () => {
    expectForbidden(await as(agent(n), ['GET', '/nodes']));
    expectForbidden(await as(agent(n), ['DELETE', `/nodes/${n}`]));
    expect((await as(agent(n), ['GET', `/nodes/${n}`])).status).toBe(200);
  });

  test('may not pass limits, not even empty ones, on a claim or a move: 403, nothing claimed', async () => {
    const before = await as(OPERATOR, ['GET', `/nodes/${n}`]);
    const i3 = uuid();
    for (const limits of [{}, { memoryMb: null }])
      expectForbidden(await as(agent(n), ['POST', `/nodes/${n}/instances`, { ...claimBody(i3), limits }]));
    expect((await as(OPERATOR, ['GET', `/nodes/${n}/instances/${i3}`])).status).toBe(404);
    const mig = fresh('mig');
    const move = { ...moveBody(mig, i1, n), moveType: 'resize', newFlavor: F2, limits: {} };
    expectForbidden(await as(agent(n), ['POST', `/nodes/${n}/move-claims`, move]));
    expect((await as(OPERATOR, ['GET', `/migrations/${mig}`])).status).toBe(404);
    expect((await as(OPERATOR, ['GET', `/nodes/${n}`])).body).toEqual(before.body);
  });

  test("may not claim a move onto its node from another node (the move changes the source's records): 403", async () => {
    const before = await ledger();
    const mig = fresh('mig');
    const reply = await as(agent(n), ['POST', `/nodes/${n}/move-claims`, moveBody(mig, i1, m)]);
    expectForbidden(reply);
    expect(reply.body.message).toBe(`The agent of node ${n} may not move an instance from node ${m}.`);
    expect((await as(OPERATOR, ['GET', `/migrations/${mig}`])).status).toBe(404);
    expect(await ledger()).toEqual(before);
  });
});

describe('the operator', () => {
  test('reads everything', async () => {
    expect(await ledger()).toHaveLength(8);
    expect((await as(OPERATOR, ['GET', `/nodes/${m}/instances/${i1}`])).status).toBe(200);
  });

  test('may not register, claim, move, change or report: 403, nothing changed', async () => {
    const before = await ledger();
    for (const id of ['putNode', 'claimInstance', 'updateInstance', 'claimMove', 'updateMigrationStatus'] as const)
      expectForbidden(await as(OPERATOR, ON_OTHER_NODE[id]));
    expect(await ledger()).toEqual(before);
  });

  test('asks for candidates, GET or POST (a query): 200, nothing changed', async () => {
    const before = await ledger();
    expect((await as(OPERATOR, ON_OTHER_NODE.getCandidates)).status).toBe(200);
    expect((await as(OPERATOR, ON_OTHER_NODE.postCandidates)).status).toBe(200);
    expect(await ledger()).toEqual(before);
  });

  test('may not place or set a server group: 403, nothing changed', async () => {
    const before = await ledger();
    for (const id of ['createPlacement', 'putServerGroup'] as const)
      expectForbidden(await as(OPERATOR, ON_OTHER_NODE[id]));
    expect(await ledger()).toEqual(before);
  });

  test('deletes a server group', async () => {
    const g = fresh('g');
    expect((await as(SCHEDULER, ['PUT', `/server-groups/${g}`, { policy: 'affinity' }])).status).toBe(201);
    expect((await as(OPERATOR, ['DELETE', `/server-groups/${g}`])).status).toBe(204);
    expect((await as(OPERATOR, ['GET', `/server-groups/${g}`])).status).toBe(404);
  });

  test('deletes: an instance, then its node', async () => {
    const q = fresh('q');
    const i = uuid();
    expect((await as(agent(q), ['PUT', `/nodes/${q}`, N0])).status).toBe(201);
    expect((await as(SCHEDULER, ['POST', `/nodes/${q}/instances`, claimBody(i)])).status).toBe(201);
    expect((await as(OPERATOR, ['DELETE', `/nodes/${q}/instances/${i}`])).status).toBe(204);
    expect((await as(OPERATOR, ['DELETE', `/nodes/${q}`])).status).toBe(204);
    expect((await as(OPERATOR, ['GET', `/nodes/${q}`])).status).toBe(404);
  });
});

describe('the scheduler', () => {
  test('claims on any node, with limits', async () => {
    for (const node of [n, m]) {
      const reply = await as(SCHEDULER, ['POST', `/nodes/${node}/instances`, { ...claimBody(uuid()), limits: {} }]);
      expect(reply.status).toBe(201);
    }
  });

  test('moves between nodes and reports statuses', async () => {
    const i = uuid();
    const mig = fresh('mig');
    expect((await as(SCHEDULER, ['POST', `/nodes/${m}/instances`, claimBody(i)])).status).toBe(201);
    expect((await as(SCHEDULER, ['POST', `/nodes/${n}/move-claims`, moveBody(mig, i, m)])).status).toBe(201);
    const reply = await as(SCHEDULER, ['POST', `/migrations/${mig}/status`, { status: 'migrating' }]);
    expect([reply.status, reply.body.status]).toEqual([200, 'migrating']);
  });

  test('places, and sets and reads server groups', async () => {
    const g = fresh('g');
    expect((await as(SCHEDULER, ['PUT', `/server-groups/${g}`, { policy: 'soft-affinity' }])).status).toBe(201);
    const placed = await as(SCHEDULER, ['POST', '/placements', { ...claimBody(uuid()), serverGroup: g }]);
    expect(placed.status).toBe(201);
    const group = await as(SCHEDULER, ['GET', `/server-groups/${g}`]);
    expect([group.status, group.body.members]).toEqual([
      200,
      [expect.objectContaining({ nodeId: placed.body.nodeId })],
    ]);
  });

  test('may not register, change, audit, release or delete: 403', async () => {
    const before = await ledger();
    for (const id of [
      'putNode',
      'updateInstance',
      'auditNode',
      'releaseInstance',
      'dropMoveClaim',
      'deleteNode',
    ] as const)
      expectForbidden(await as(SCHEDULER, ON_OTHER_NODE[id]));
    expect(await ledger()).toEqual(before);
  });
});

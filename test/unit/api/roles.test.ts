// Who may call what (rules W1-W5): the table covers every route, and each role's decision on each route.
import {
  bodyDecision,
  callerOfArn,
  decide,
  isOpen,
  migrationDecision,
  roleNames,
  ROUTE_ACCESS,
  type Caller,
} from '../../../lib/api/roles';
import { ROUTES, type HttpOperationId } from '../../../lib/operations';

const agentOfN: Caller = { role: 'agent', nodeId: 'n' };
const scheduler: Caller = { role: 'scheduler' };
const operator: Caller = { role: 'operator' };

/** What each role may do, written out once more by hand: the table must say the same (rules W2-W4). */
const EXPECTED: Record<HttpOperationId, { agent: 'own' | 'migration' | 'no'; scheduler: boolean; operator: boolean }> =
  {
    listNodes: { agent: 'no', scheduler: true, operator: true },
    putNode: { agent: 'own', scheduler: false, operator: false },
    getNode: { agent: 'own', scheduler: true, operator: true },
    deleteNode: { agent: 'no', scheduler: false, operator: true },
    claimInstance: { agent: 'own', scheduler: true, operator: false },
    listInstances: { agent: 'own', scheduler: true, operator: true },
    getInstance: { agent: 'own', scheduler: true, operator: true },
    updateInstance: { agent: 'own', scheduler: false, operator: false },
    releaseInstance: { agent: 'own', scheduler: false, operator: true },
    claimMove: { agent: 'own', scheduler: true, operator: false },
    dropMoveClaim: { agent: 'own', scheduler: false, operator: true },
    getMigration: { agent: 'migration', scheduler: true, operator: true },
    updateMigrationStatus: { agent: 'migration', scheduler: true, operator: false },
    auditNode: { agent: 'own', scheduler: false, operator: false },
    getCandidates: { agent: 'no', scheduler: true, operator: true },
    postCandidates: { agent: 'no', scheduler: true, operator: true },
    createPlacement: { agent: 'no', scheduler: true, operator: false },
    putServerGroup: { agent: 'no', scheduler: true, operator: false },
    getServerGroup: { agent: 'no', scheduler: true, operator: true },
    deleteServerGroup: { agent: 'no', scheduler: true, operator: true },
  };

describe('the table of route access', () => {
  it('has an entry for every HTTP route of lib/operations.ts, and none for anything else', () => {
    expect(Object.keys(ROUTE_ACCESS).sort()).toEqual(ROUTES.map((r) => r.id).sort());
  });

  it("names each route's id after its name, lower-cased first (httpHandler finds the entry so)", () => {
    for (const r of ROUTES) expect(`${r.name.charAt(0).toLowerCase()}${r.name.slice(1)}`).toBe(r.id);
  });

  it('lets the operator use GETs, DELETEs and the candidates query (a POST that reads) only, every DELETE included', () => {
    for (const route of ROUTES)
      expect([route.id, ROUTE_ACCESS[route.id].operator]).toEqual([
        route.id,
        route.method === 'GET' || route.method === 'DELETE' || route.id === 'postCandidates',
      ]);
  });
});

describe.each(ROUTES.map((r) => [r.id] as const))('%s', (id) => {
  const expected = EXPECTED[id];

  it('the scheduler and the operator: as the table of security.md says', () => {
    expect(decide(scheduler, id, 'm').kind).toBe(expected.scheduler ? 'allow' : 'deny');
    expect(decide(operator, id, 'm').kind).toBe(expected.operator ? 'allow' : 'deny');
  });

  it('an agent of n: on its own node only, on migrations after a look, or never', () => {
    const own = decide(agentOfN, id, 'n');
    const other = decide(agentOfN, id, 'm');
    switch (expected.agent) {
      case 'own':
        expect(own).toEqual({ kind: 'allow' });
        expect(other).toEqual({ kind: 'deny', reason: 'The agent of node n may not act on node m.' });
        break;
      case 'migration':
        expect(other).toEqual({ kind: 'if-migration-on', nodeId: 'n' });
        break;
      case 'no':
        expect([own.kind, other.kind]).toEqual(['deny', 'deny']);
        break;
    }
  });

  it('open (the local runner, AUTH=open): everything', () => {
    expect(decide({ role: 'open' }, id, 'm')).toEqual({ kind: 'allow' });
  });
});

describe("an agent's migrations and bodies", () => {
  it('a migration of its node, as source or destination, and no other', () => {
    expect(migrationDecision('n', { sourceNodeId: 'n', destNodeId: 'm' }).kind).toBe('allow');
    expect(migrationDecision('n', { sourceNodeId: 'm', destNodeId: 'n' }).kind).toBe('allow');
    expect(migrationDecision('n', { sourceNodeId: 'm', destNodeId: 'p' })).toEqual({
      kind: 'deny',
      reason: 'The agent of node n may not act on a migration from m to p.',
    });
  });

  it('no limits, not even empty ones, and a move only from its own node', () => {
    expect(bodyDecision(agentOfN, { instanceUuid: 'x' }).kind).toBe('allow');
    expect(bodyDecision(agentOfN, { limits: {} }).kind).toBe('deny');
    expect(bodyDecision(agentOfN, { limits: { memoryMb: null } }).kind).toBe('deny');
    expect(bodyDecision(agentOfN, { sourceNodeId: 'n' }).kind).toBe('allow');
    expect(bodyDecision(agentOfN, { sourceNodeId: 'm' })).toEqual({
      kind: 'deny',
      reason: 'The agent of node n may not move an instance from node m.',
    });
  });

  it('the scheduler may pass limits and move from any node', () => {
    expect(bodyDecision(scheduler, { limits: { vcpus: null }, sourceNodeId: 'm' }).kind).toBe('allow');
  });
});

describe('the caller of an IAM identity', () => {
  const names = roleNames({
    AGENT_ROLE_NAME: 'ct-agent',
    SCHEDULER_ROLE_NAME: 'ct-scheduler',
    OPERATOR_ROLE_NAME: 'ct-op',
  });
  const arn = (role: string, session: string) => `arn:aws:sts::123456789012:assumed-role/${role}/${session}`;

  it("the stack's three roles by their names; an agent's node is its session name", () => {
    expect(callerOfArn(arn('ct-agent', 'node-7'), names)).toEqual({ role: 'agent', nodeId: 'node-7' });
    expect(callerOfArn(arn('ct-scheduler', 'nova-scheduler'), names)).toEqual({ role: 'scheduler' });
    expect(callerOfArn(arn('ct-op', 'alice'), names)).toEqual({ role: 'operator' });
    expect(callerOfArn(`arn:aws-us-gov:sts::123456789012:assumed-role/ct-op/bob`, names)).toEqual({
      role: 'operator',
    });
  });

  it('anything else is no caller: another role, an IAM user, a malformed ARN, nothing', () => {
    expect(callerOfArn(arn('admin', 'x'), names)).toBeUndefined();
    expect(callerOfArn('arn:aws:iam::123456789012:user/ct-agent', names)).toBeUndefined();
    expect(callerOfArn('arn:aws:sts::123456789012:assumed-role/ct-agent/', names)).toBeUndefined();
    expect(callerOfArn(`${arn('ct-agent', 'n')}/extra`, names)).toBeUndefined();
    expect(callerOfArn(undefined, names)).toBeUndefined();
  });

  it('runs open only when AUTH says open', () => {
    expect(isOpen({ AUTH: 'open' })).toBe(true);
    expect(isOpen({})).toBe(false);
    expect(isOpen({ AUTH: 'OPEN' })).toBe(false);
    expect(isOpen({ AUTH: '' })).toBe(false);
  });
});

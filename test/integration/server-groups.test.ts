// Server groups (rules G7-G9): the routes, and hard policies held by the claim's own transaction even when
// claims race for the same nodes.
import type { Store } from '../../lib/store';
import { openApiDocument } from '../../lib/api/openapi';
import { api } from '../support/api';
import { ONE_VCPU, roomForVcpus, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { groupHostCount } from '../support/groups';
import { errorsOf, openApiValidator } from '../support/openapi-validator';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('groups');
});

const minimal = { prefer: 'return=minimal' };
const claim = (nodeId: string, serverGroup: string, instanceUuid = uuid()) =>
  api('POST', `/nodes/${nodeId}/instances`, { instanceUuid, flavor: ONE_VCPU, serverGroup }, minimal);
const count = (statuses: number[], s: number) => statuses.filter((x) => x === s).length;

const hostCount = (nodeId: string, groupId: string) => groupHostCount(store, nodeId, groupId);

async function nodes(prefix: string, n: number, room = 64): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  for (const id of ids) expect((await api('PUT', `/nodes/${id}`, roomForVcpus(room))).status).toBe(201);
  return ids;
}

describe('the routes', () => {
  test('PUT creates (201), then sets (200); GET lists members; DELETE 204, then 404', async () => {
    expect((await api('PUT', '/server-groups/g-routes', { policy: 'anti-affinity' })).status).toBe(201);
    const again = await api('PUT', '/server-groups/g-routes', {
      policy: 'anti-affinity',
      rules: { maxServerPerHost: 2 },
    });
    expect(again).toMatchObject({ status: 200, body: { groupId: 'g-routes', rules: { maxServerPerHost: 2 } } });
    const view = await api('GET', '/server-groups/g-routes');
    expect(view.body).toEqual({
      groupId: 'g-routes',
      policy: 'anti-affinity',
      rules: { maxServerPerHost: 2 },
      members: [],
    });
    expect((await api('DELETE', '/server-groups/g-routes')).status).toBe(204);
    expect((await api('GET', '/server-groups/g-routes')).body.error).toBe('GroupNotFound');
    expect((await api('DELETE', '/server-groups/g-routes')).status).toBe(404);
  });

  test.each([
    [{ policy: 'sideways' }, 'policy'],
    [{ policy: 'affinity', rules: { maxServerPerHost: 2 } }, 'rules.maxServerPerHost'],
    [{ policy: 'anti-affinity', rules: { maxServerPerHost: 0 } }, 'rules.maxServerPerHost'],
    [{ policy: 'anti-affinity', extra: 1 }, ''],
  ])('a malformed group %j is 400 and creates nothing', async (body, path) => {
    const reply = await api('PUT', '/server-groups/g-bad', body);
    expect(reply.status).toBe(400);
    expect(reply.body.issues[0].path).toBe(path);
    expect((await api('GET', '/server-groups/g-bad')).status).toBe(404);
  });

  test('a claim into a group that does not exist is 404 GroupNotFound and claims nothing', async () => {
    const [n] = await nodes('nf', 1);
    const reply = await claim(n!, 'g-none');
    expect(reply).toMatchObject({ status: 404, body: { error: 'GroupNotFound' } });
    expect((await expectLedgerExact(store, n!)).instances).toHaveLength(0);
  });

  test('policy cannot change and the group cannot go while it has members; the same policy may be PUT again', async () => {
    const [n] = await nodes('inuse', 1);
    await api('PUT', '/server-groups/g-inuse', { policy: 'affinity' });
    const id = uuid();
    expect((await claim(n!, 'g-inuse', id)).status).toBe(201);
    expect((await api('PUT', '/server-groups/g-inuse', { policy: 'anti-affinity' })).body.error).toBe('GroupInUse');
    expect((await api('PUT', '/server-groups/g-inuse', { policy: 'affinity' })).status).toBe(200);
    expect((await api('DELETE', '/server-groups/g-inuse')).body.error).toBe('GroupInUse');
    expect((await api('GET', '/server-groups/g-inuse')).body.members).toEqual([{ instanceUuid: id, nodeId: n }]);
    expect((await api('DELETE', `/nodes/${n}/instances/${id}`)).status).toBe(204);
    expect((await api('GET', '/server-groups/g-inuse')).body.members).toEqual([]);
    expect((await api('DELETE', '/server-groups/g-inuse')).status).toBe(204);
  });
});

describe('hard policies hold under racing claims', () => {
  test('32 concurrent claims into an anti-affinity group over 8 nodes: exactly 8 admitted, one per node', async () => {
    const ids = await nodes('aa', 8);
    await api('PUT', '/server-groups/g-aa', { policy: 'anti-affinity' });
    const replies = await Promise.all(Array.from({ length: 32 }, (_, i) => claim(ids[i % 8]!, 'g-aa')));
    const statuses = replies.map((r) => r.status);
    expect(count(statuses, 201)).toBe(8);
    for (const r of replies.filter((x) => x.status !== 201)) {
      expect(r.body.error).toBe('GroupPolicyViolation');
      expect(r.body.message).toMatch(/anti-affinity: node aa-\d already holds 1 of its members/);
    }
    for (const id of ids) {
      expect((await expectLedgerExact(store, id)).instances).toHaveLength(1);
      expect(await hostCount(id, 'g-aa')).toBe(1);
    }
    expect((await api('GET', '/server-groups/g-aa')).body.members).toHaveLength(8);
  });

  test('maxServerPerHost 2: 32 racing claims over 8 nodes admit exactly 16, two per node', async () => {
    const ids = await nodes('aa2', 8);
    await api('PUT', '/server-groups/g-aa2', { policy: 'anti-affinity', rules: { maxServerPerHost: 2 } });
    const replies = await Promise.all(Array.from({ length: 32 }, (_, i) => claim(ids[i % 8]!, 'g-aa2')));
    expect(
      count(
        replies.map((r) => r.status),
        201,
      ),
    ).toBe(16);
    for (const id of ids) expect((await expectLedgerExact(store, id)).instances).toHaveLength(2);
  });

  test('racing affinity claims onto two nodes all land on one', async () => {
    const [a, b] = await nodes('af', 2);
    await api('PUT', '/server-groups/g-af', { policy: 'affinity' });
    const replies = await Promise.all(Array.from({ length: 16 }, (_, i) => claim(i % 2 ? a! : b!, 'g-af')));
    const landed = replies.filter((r) => r.status === 201);
    const where = new Set(landed.map((r) => r.body.nodeId));
    expect(where.size).toBe(1);
    const host = [...where][0] as string;
    expect(landed).toHaveLength(8);
    for (const r of replies.filter((x) => x.status !== 201)) {
      expect(r.body).toMatchObject({ error: 'GroupPolicyViolation' });
      expect(r.body.message).toContain(`policy affinity: its members are on node ${host}`);
    }
    const other = host === a ? b! : a!;
    expect((await expectLedgerExact(store, other)).instances).toHaveLength(0);
  });

  test('a released member frees its place; the same claim sent again is answered as itself', async () => {
    const [n] = await nodes('rel', 1);
    await api('PUT', '/server-groups/g-rel', { policy: 'anti-affinity' });
    const first = uuid();
    expect((await claim(n!, 'g-rel', first)).status).toBe(201);
    expect((await claim(n!, 'g-rel', first)).status).toBe(200);
    expect((await claim(n!, 'g-rel')).body.error).toBe('GroupPolicyViolation');
    // A releasing state change leaves the group as a DELETE does.
    expect((await api('PATCH', `/nodes/${n}/instances/${first}`, { vmState: 'deleted' })).status).toBe(200);
    expect(await hostCount(n!, 'g-rel')).toBe(0);
    expect((await claim(n!, 'g-rel')).status).toBe(201);
    expect(await hostCount(n!, 'g-rel')).toBe(1);
  });

  test('soft policies refuse nothing', async () => {
    const [n] = await nodes('soft', 1);
    await api('PUT', '/server-groups/g-soft', { policy: 'soft-anti-affinity' });
    const replies = await Promise.all(Array.from({ length: 4 }, () => claim(n!, 'g-soft')));
    expect(replies.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    expect(await hostCount(n!, 'g-soft')).toBe(4);
  });
});

/** A cold migration's claim on `dest` of the instance on `source`, and its status updates. */
const move = (dest: string, source: string, instanceUuid: string, migrationId: string) =>
  api('POST', `/nodes/${dest}/move-claims`, { migrationId, instanceUuid, moveType: 'migration', sourceNodeId: source });
const status = (migrationId: string, s: string) => api('POST', `/migrations/${migrationId}/status`, { status: s });

describe('moves keep membership exact (rule G9)', () => {
  test('an anti-affine member may not move onto a node with another member; onto an empty one it counts on both until the end', async () => {
    const [a, b, c] = await nodes('mv', 3);
    await api('PUT', '/server-groups/g-mv', { policy: 'anti-affinity' });
    const [i1, i2] = [uuid(), uuid()];
    expect((await claim(a!, 'g-mv', i1)).status).toBe(201);
    expect((await claim(b!, 'g-mv', i2)).status).toBe(201);
    const refused = await move(b!, a!, i1, `mv-1-${i1}`);
    expect(refused).toMatchObject({ status: 409, body: { error: 'GroupPolicyViolation' } });
    expect(refused.body.message).toContain(`node ${b} already holds 1 of its members`);
    // The route declares what it answers (rule G9): the document lists GroupPolicyViolation among its 409s.
    const documented = openApiValidator(openApiDocument()).response('POST /nodes/{nodeId}/move-claims', 409);
    expect(documented?.(refused.body) ? '' : errorsOf(documented!)).toBe('');
    expect((await move(c!, a!, i1, `mv-2-${i1}`)).status).toBe(201);
    // While it moves, the destination counts it: another member cannot take it.
    expect((await claim(c!, 'g-mv')).body.error).toBe('GroupPolicyViolation');
    expect([await hostCount(a!, 'g-mv'), await hostCount(c!, 'g-mv')]).toEqual([1, 1]);
    expect((await status(`mv-2-${i1}`, 'finished')).status).toBe(200);
    expect((await status(`mv-2-${i1}`, 'confirmed')).status).toBe(200);
    expect([await hostCount(a!, 'g-mv'), await hostCount(c!, 'g-mv')]).toEqual([0, 1]);
    const members = (await api('GET', '/server-groups/g-mv')).body.members;
    expect(members).toEqual(
      expect.arrayContaining([
        { instanceUuid: i1, nodeId: c },
        { instanceUuid: i2, nodeId: b },
      ]),
    );
    expect((await claim(a!, 'g-mv')).status).toBe(201);
  });

  test('a reverted move leaves the member where it was', async () => {
    const [a, b] = await nodes('rv', 2);
    await api('PUT', '/server-groups/g-rv', { policy: 'anti-affinity' });
    const id = uuid();
    expect((await claim(a!, 'g-rv', id)).status).toBe(201);
    expect((await move(b!, a!, id, `rv-${id}`)).status).toBe(201);
    expect((await status(`rv-${id}`, 'reverted')).status).toBe(200);
    expect([await hostCount(a!, 'g-rv'), await hostCount(b!, 'g-rv')]).toEqual([1, 0]);
    expect((await claim(b!, 'g-rv')).status).toBe(201);
  });

  test("a re-targeted live migration leaves the former destination in the re-target's write (rule L4)", async () => {
    const [a, b, c] = await nodes('lr', 3);
    await api('PUT', '/server-groups/g-lr', { policy: 'anti-affinity' });
    const id = uuid();
    const m = `lr-${id}`;
    expect((await claim(a!, 'g-lr', id)).status).toBe(201);
    const live = (dest: string) =>
      api('POST', `/nodes/${dest}/move-claims`, {
        migrationId: m,
        instanceUuid: id,
        moveType: 'live-migration',
        sourceNodeId: a,
      });
    expect((await live(b!)).status).toBe(201);
    expect([await hostCount(a!, 'g-lr'), await hostCount(b!, 'g-lr'), await hostCount(c!, 'g-lr')]).toEqual([1, 1, 0]);
    const moved = await live(c!);
    expect([moved.status, moved.body.migration.destNodeId]).toEqual([201, c]);
    expect([await hostCount(a!, 'g-lr'), await hostCount(b!, 'g-lr'), await hostCount(c!, 'g-lr')]).toEqual([1, 0, 1]);
    // The former destination is free for another member; the new one is not.
    expect((await claim(c!, 'g-lr')).body.error).toBe('GroupPolicyViolation');
    expect((await claim(b!, 'g-lr')).status).toBe(201);
    expect((await status(m, 'completed')).status).toBe(200);
    expect([await hostCount(a!, 'g-lr'), await hostCount(b!, 'g-lr'), await hostCount(c!, 'g-lr')]).toEqual([0, 1, 1]);
    expect((await api('GET', '/server-groups/g-lr')).body.members).toEqual(
      expect.arrayContaining([expect.objectContaining({ instanceUuid: id, nodeId: c })]),
    );
  });

  test('an affinity member moves only when it is the only one, and the group follows it', async () => {
    const [a, b] = await nodes('am', 2);
    await api('PUT', '/server-groups/g-am', { policy: 'affinity' });
    const [i1, i2] = [uuid(), uuid()];
    expect((await claim(a!, 'g-am', i1)).status).toBe(201);
    expect((await claim(a!, 'g-am', i2)).status).toBe(201);
    expect((await move(b!, a!, i1, `am-1-${i1}`)).body.error).toBe('GroupPolicyViolation');
    expect((await api('DELETE', `/nodes/${a}/instances/${i2}`)).status).toBe(204);
    expect((await move(b!, a!, i1, `am-2-${i1}`)).status).toBe(201);
    expect((await status(`am-2-${i1}`, 'finished')).status).toBe(200);
    expect((await status(`am-2-${i1}`, 'confirmed')).status).toBe(200);
    // The group is on b now: a new member goes there, not to a.
    expect((await claim(a!, 'g-am')).body.error).toBe('GroupPolicyViolation');
    expect((await claim(b!, 'g-am')).status).toBe(201);
  });
});

describe('a stale hold released by the audit takes the member off its node (rules L6, G9)', () => {
  const audit = (nodeId: string) => api('POST', `/nodes/${nodeId}/audit`, { migrations: [] });
  const stale = async () => {
    process.env.STALE_HOLD_MINUTES = '0.00001'; // every hold of the test is older
    await new Promise((r) => setTimeout(r, 5));
  };
  afterEach(() => delete process.env.STALE_HOLD_MINUTES);
  const counts = (ids: string[], groupId: string) => Promise.all(ids.map((n) => hostCount(n, groupId)));

  test("the destination's new hold: the destination counts the member no more, and the failure that comes later takes nothing twice", async () => {
    const [a, b] = await nodes('sh', 2);
    await api('PUT', '/server-groups/g-sh', { policy: 'anti-affinity' });
    const id = uuid();
    const m = `sh-${id}`;
    expect((await claim(a!, 'g-sh', id)).status).toBe(201);
    expect((await move(b!, a!, id, m)).status).toBe(201);
    expect(await counts([a!, b!], 'g-sh')).toEqual([1, 1]);
    await stale();
    expect((await audit(b!)).body.releasedHolds).toHaveLength(1);
    expect(await counts([a!, b!], 'g-sh')).toEqual([1, 0]);
    expect((await status(m, 'failed')).body.applied).toBe(true);
    expect(await counts([a!, b!], 'g-sh')).toEqual([1, 0]);
    expect((await api('GET', '/server-groups/g-sh')).body.members).toEqual([{ instanceUuid: id, nodeId: a }]);
    expect((await claim(b!, 'g-sh')).status).toBe(201);
    expect((await claim(a!, 'g-sh')).body.error).toBe('GroupPolicyViolation');
  });

  test("the source's old hold after finished: the member is on the destination only, and the confirm that comes later takes nothing twice", async () => {
    const [a, b] = await nodes('so', 2);
    await api('PUT', '/server-groups/g-so', { policy: 'affinity' });
    const id = uuid();
    const m = `so-${id}`;
    expect((await claim(a!, 'g-so', id)).status).toBe(201);
    expect((await move(b!, a!, id, m)).status).toBe(201);
    expect((await status(m, 'finished')).status).toBe(200);
    await stale();
    expect((await audit(a!)).body.releasedHolds).toEqual([expect.objectContaining({ role: 'old' })]);
    expect(await counts([a!, b!], 'g-so')).toEqual([0, 1]);
    expect((await api('GET', '/server-groups/g-so')).body.members).toEqual([{ instanceUuid: id, nodeId: b }]);
    // The affinity group follows its only member.
    expect((await claim(a!, 'g-so')).body.error).toBe('GroupPolicyViolation');
    expect((await status(m, 'confirmed')).status).toBe(200);
    expect(await counts([a!, b!], 'g-so')).toEqual([0, 1]);
    expect((await claim(b!, 'g-so')).status).toBe(201);
    expect(await counts([a!, b!], 'g-so')).toEqual([0, 2]);
  });

  test("drop_move_claim of the destination's hold (rule O9) takes the member off it the same way", async () => {
    const [a, b] = await nodes('sd', 2);
    await api('PUT', '/server-groups/g-sd', { policy: 'anti-affinity' });
    const id = uuid();
    expect((await claim(a!, 'g-sd', id)).status).toBe(201);
    expect((await move(b!, a!, id, `sd-${id}`)).status).toBe(201);
    expect((await api('DELETE', `/nodes/${b}/move-claims/sd-${id}`)).status).toBe(204);
    expect(await counts([a!, b!], 'g-sd')).toEqual([1, 0]);
    expect((await claim(b!, 'g-sd')).status).toBe(201);
  });

  test.each([1, 2, 3])(
    'round %i: the audit releasing the hold races the final status; either way the member counts once, where it is',
    async (round) => {
      const [a, b] = await nodes(`sr${round}`, 2);
      const groupId = `g-sr${round}`;
      await api('PUT', `/server-groups/${groupId}`, { policy: 'anti-affinity' });
      const id = uuid();
      const m = `sr-${id}`;
      expect((await claim(a!, groupId, id)).status).toBe(201);
      const body = { migrationId: m, instanceUuid: id, moveType: 'live-migration', sourceNodeId: a };
      expect((await api('POST', `/nodes/${b}/move-claims`, body)).status).toBe(201);
      await stale();
      const [report, completed] = await Promise.all([audit(b!), status(m, 'completed')]);
      const where = completed.status === 200 ? b : a;
      expect(report.body.releasedHolds).toHaveLength(completed.status === 200 ? 0 : 1);
      expect(await counts([a!, b!], groupId)).toEqual(where === a ? [1, 0] : [0, 1]);
      expect((await api('GET', `/server-groups/${groupId}`)).body.members).toEqual([
        { instanceUuid: id, nodeId: where },
      ]);
    },
  );
});

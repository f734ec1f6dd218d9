// Faults on every step of a placement (the fleet read, the group read, the claim transaction, a gang's
// transaction) and of the group routes: each ends with one claim and an exact group, nothing counted twice.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { roomForVcpus, uuid } from '../support/fixtures';
import { injectFaults, type Fault } from '../support/faults';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
let remove: (() => void) | undefined;
beforeAll(async () => {
  await freshTable('placement-faults');
  store = runtime().store; // the handlers' own client, so the faults hit them
  process.env.FLEET_VIEW_TTL_MS = '0';
});
afterAll(() => {
  delete process.env.FLEET_VIEW_TTL_MS;
});
afterEach(() => {
  remove?.();
  remove = undefined;
});

const ONE = { vcpus: 1, memoryMb: 1, rootGb: 1 };
let seq = 0;
/** Two nodes of an aggregate of their own, and an anti-affinity group. */
async function setting() {
  const agg = `pf-${++seq}`;
  for (const i of [0, 1]) await api('PUT', `/nodes/${agg}-${i}`, { ...roomForVcpus(4), aggregates: [agg] });
  await api('PUT', `/server-groups/${agg}`, { policy: 'anti-affinity' });
  return agg;
}

async function groupItems(groupId: string) {
  const out = await store.doc.send(
    new QueryCommand({
      TableName: store.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `GROUP#${groupId}` },
      ConsistentRead: true,
    }),
  );
  const head = out.Items?.find((i) => i.sk === 'GROUP');
  return { memberCount: Number(head?.memberCount), members: (out.Items ?? []).filter((i) => i.sk !== 'GROUP').length };
}

const FAULTS: Fault[] = ['conflict', 'throttle', 'server-error', 'lost-response'];
const STEPS = [
  ['the fleet read', 'BatchGetItemCommand'],
  ['the idempotency and group reads', 'QueryCommand'],
  ['the claim transaction', 'TransactWriteItemsCommand'],
] as const;

describe.each(STEPS)('%s', (_step, command) => {
  test.each(FAULTS)('meeting %s twice, a placement lands once and its group counts it once', async (fault) => {
    if (fault === 'conflict' && command !== 'TransactWriteItemsCommand') return;
    const agg = await setting();
    const faults = injectFaults(store, { command, fault, times: 2 });
    remove = faults.remove;
    const body = { instanceUuid: uuid(), flavor: ONE, memberOf: [agg], serverGroup: agg };
    const first = await api('POST', '/placements', body);
    expect(first.status).toBe(201);
    expect(faults.state.injected).toBe(2);
    faults.remove();
    expect(await api('POST', '/placements', body)).toMatchObject({ status: 200, body: first.body });
    let held = 0;
    for (const i of [0, 1]) held += (await expectLedgerExact(store, `${agg}-${i}`)).instances.length;
    expect(held).toBe(1);
    expect(await groupItems(agg)).toEqual({ memberCount: 1, members: 1 });
  });
});

test.each(FAULTS)('a gang whose transaction meets %s is placed whole, once', async (fault) => {
  const agg = await setting();
  const faults = injectFaults(store, { command: 'TransactWriteItemsCommand', fault, times: 1 });
  remove = faults.remove;
  const instances = [0, 1].map(() => ({ instanceUuid: uuid(), flavor: ONE }));
  const reply = await api('POST', '/placements', { instances, memberOf: [agg], serverGroup: agg });
  expect([reply.status, reply.status === 201 ? '' : reply.body]).toEqual([201, '']);
  for (const i of [0, 1]) expect((await expectLedgerExact(store, `${agg}-${i}`)).instances).toHaveLength(1);
  expect(await groupItems(agg)).toEqual({ memberCount: 2, members: 2 });
});

// Two copies of one gang on a fleet with room for one: the copy whose transaction met a conflict plans again
// after the other placed the gang, finds no room, and must answer the other's placement, not NoValidHost.
test.each([true, false])(
  'copies of one gang, one meeting a conflict (group: %s): one placement, both answer it',
  async (grouped) => {
    const agg = `pf-${++seq}`;
    for (const i of [0, 1]) await api('PUT', `/nodes/${agg}-${i}`, { ...roomForVcpus(1), aggregates: [agg] });
    if (grouped) await api('PUT', `/server-groups/${agg}`, { policy: 'anti-affinity' });
    const faults = injectFaults(store, { command: 'TransactWriteItemsCommand', fault: 'conflict', times: 1 });
    remove = faults.remove;
    const instances = [0, 1].map(() => ({ instanceUuid: uuid(), flavor: ONE }));
    const body = { instances, memberOf: [agg], ...(grouped ? { serverGroup: agg } : {}) };
    const replies = await Promise.all([1, 2].map(() => api('POST', '/placements', body)));
    expect(faults.state.injected).toBe(1);
    expect(replies.map((r) => (r.status >= 300 ? r.body : r.status)).sort()).toEqual([200, 201]);
    expect(replies[0]!.body.placements).toEqual(replies[1]!.body.placements);
    for (const i of [0, 1]) expect((await expectLedgerExact(store, `${agg}-${i}`)).instances).toHaveLength(1);
    if (grouped) expect(await groupItems(agg)).toEqual({ memberCount: 2, members: 2 });
  },
);

test.each(['PUT', 'DELETE'] as const)(
  'a %s of a group whose answer is lost answers as if it had not been',
  async (method) => {
    const id = `pf-lost-${method}`;
    if (method === 'DELETE') await api('PUT', `/server-groups/${id}`, { policy: 'affinity' });
    const command = method === 'PUT' ? 'UpdateItemCommand' : 'DeleteItemCommand';
    const faults = injectFaults(store, { command, fault: 'lost-response', times: 1 });
    remove = faults.remove;
    const reply = await api(method, `/server-groups/${id}`, method === 'PUT' ? { policy: 'affinity' } : undefined);
    expect(reply.status).toBe(method === 'PUT' ? 201 : 204);
    expect(faults.state.injected).toBe(1);
    expect((await api('GET', `/server-groups/${id}`)).status).toBe(method === 'PUT' ? 200 : 404);
  },
);

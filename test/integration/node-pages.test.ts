// GET /nodes a page at a time: every node exactly once, in nodeId order, however the pages fall.
import { listNodes, type Store } from '../../lib/store';
import { api } from '../support/api';
import { F1, N0, uuid } from '../support/fixtures';
import { freshTable } from '../support/table';

let store: Store;
const ids = Array.from({ length: 125 }, (_, i) => `page-${String(i).padStart(3, '0')}`);
beforeAll(async () => {
  store = await freshTable('pages');
  for (let i = 0; i < ids.length; i += 25) {
    await Promise.all(ids.slice(i, i + 25).map((id) => api('PUT', `/nodes/${id}`, N0)));
  }
});

async function allPages(query: string): Promise<{ ids: string[]; pages: number[] }> {
  const seen: string[] = [];
  const pages: number[] = [];
  let next: string | undefined;
  do {
    const res = await api('GET', `/nodes?${query}${next ? `&next=${encodeURIComponent(next)}` : ''}`);
    expect(res.status).toBe(200);
    seen.push(...res.body.nodes.map((n: { nodeId: string }) => n.nodeId));
    pages.push(res.body.nodes.length);
    next = res.body.next;
  } while (next);
  return { ids: seen, pages };
}

test('pages of 10 give every node once, in nodeId order', async () => {
  const { ids: seen, pages } = await allPages('limit=10');
  expect(seen).toEqual(ids);
  expect(pages.slice(0, 12)).toEqual(Array(12).fill(10));
});

test('without a limit a page holds at most 100 nodes, and says where the next starts', async () => {
  const first = await api('GET', '/nodes');
  expect(first.body.nodes).toHaveLength(100);
  expect(typeof first.body.next).toBe('string');
  const { ids: seen } = await allPages('limit=100');
  expect(seen).toEqual(ids);
});

test('the service itself (the scheduled audit) reads every node across pages', async () => {
  expect((await listNodes(store, 7)).map((n) => n.nodeId)).toEqual(ids);
});

test('each listed node shows the stats of its own records, as its view does (rule S6)', async () => {
  const [a, b] = [ids[1] as string, ids[2] as string];
  const claims = [
    [a, 'p-a'],
    [a, 'p-b'],
    [b, 'p-b'],
  ] as const;
  for (const [nodeId, projectId] of claims) {
    const body = { instanceUuid: uuid(), flavor: F1, projectId, osType: 'linux', vmState: 'active', taskState: null };
    expect((await api('POST', `/nodes/${nodeId}/instances`, body)).status).toBe(201);
  }
  const listed = (await api('GET', '/nodes?limit=3')).body.nodes as { nodeId: string; stats: object }[];
  const shown = Object.fromEntries(listed.map((n) => [n.nodeId, n.stats]));
  expect(shown[ids[0] as string]).toEqual({ io_workload: 0 });
  const of = (n: number, projects: Record<string, number>) => ({
    io_workload: 0,
    num_instances: n,
    num_vm_active: n,
    num_task_None: n,
    num_os_type_linux: n,
    ...projects,
  });
  expect(shown[a]).toEqual(of(2, { 'num_proj_p-a': 1, 'num_proj_p-b': 1 }));
  expect(shown[b]).toEqual(of(1, { 'num_proj_p-b': 1 }));
  for (const nodeId of [a, b]) expect((await api('GET', `/nodes/${nodeId}`)).body.stats).toEqual(shown[nodeId]);
  // The fleet view places on usage: its listing reads no records and shows no stats.
  const fleet = await listNodes(store, 3);
  expect(fleet.find((n) => n.nodeId === a)?.stats).toEqual({});
});

test.each([
  ['limit=0', 'limit: must be 1 to 1000'],
  ['limit=1001', 'limit: must be 1 to 1000'],
  ['limit=ten', 'limit: must be a whole number'],
  ['limit=2.5', 'limit: must be a whole number'],
  ['next=%2F%2F%2F', 'next: is not a page token this API gave'],
  [`next=${Buffer.from('no spaces allowed').toString('base64url')}`, 'next: is not a page token this API gave'],
  ['page=2', 'Invalid query'],
])('GET /nodes?%s is a 400 that names the problem', async (query, message) => {
  const res = await api('GET', `/nodes?${query}`);
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('ValidationError');
  expect(res.body.message).toContain(message);
});

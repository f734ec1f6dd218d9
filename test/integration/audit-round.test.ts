// The scheduled audit round fanned out in slices (rule A5), run in process as the local runner runs it
// (local/audit-round.ts: the planner's and the slices' handlers, the state machine's retries): every node
// is audited once a round, a failed slice is tried again whole without harm (audits are idempotent, rule
// A2), drift is found wherever it is, and a slice that never succeeds fails the round, not the others.
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { plan } from '../../functions/audit-all';
import { runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import { runAuditRound, type RoundReport } from '../../local/audit-round';
import { api } from '../support/api';
import { F1, N0, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

const FLEET = 60;
const SLICE = 7;
// Pages of the index smaller than a slice, so that slices are cut across pages.
const PAGE = 5;
const ids = Array.from({ length: FLEET }, (_, i) => `round-${String(i).padStart(2, '0')}`);

let store: Store;
/** Node partitions read by the handlers (each audit reads its node's once), and node items they updated. */
let reads: string[] = [];
let writes: string[] = [];
/** A fault to inject into the handlers' next partition read of a node: thrown instead of sending it. */
let faults = new Map<string, number>();
/** A key's string value, whether the document client has marshalled it yet or not. */
const text = (v: unknown) => (typeof v === 'string' ? v : (v as { S?: string } | undefined)?.S);

beforeAll(async () => {
  store = await freshTable('audit-round');
  runtime().store.client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const pk = text((input.ExpressionAttributeValues as Record<string, unknown> | undefined)?.[':pk']);
      if (context.commandName === 'QueryCommand' && input.IndexName === undefined && pk?.startsWith('NODE#')) {
        const nodeId = pk.slice('NODE#'.length);
        reads.push(nodeId);
        const left = faults.get(nodeId) ?? 0;
        if (left > 0) {
          faults.set(nodeId, left - 1);
          throw new Error(`injected fault reading ${nodeId}`);
        }
      }
      if (context.commandName === 'UpdateItemCommand') {
        const pk = text((input.Key as Record<string, unknown> | undefined)?.pk);
        if (pk) writes.push(pk.slice('NODE#'.length));
      }
      return next(args);
    },
    { step: 'initialize', name: 'record-audit-reads' },
  );
  for (const id of ids) expect((await api('PUT', `/nodes/${id}`, N0)).status).toBe(201);
  for (const id of ids.filter((_, i) => i % 3 === 0)) {
    const claim = { instanceUuid: uuid(), flavor: F1, vmState: 'active', taskState: null };
    expect((await api('POST', `/nodes/${id}/instances`, claim)).status).toBe(201);
  }
});

beforeEach(() => {
  reads = [];
  writes = [];
  faults = new Map();
});

const round = (): Promise<RoundReport> =>
  runAuditRound({ plan: () => plan({ sliceSize: SLICE, pageSize: PAGE }), retryDelayMs: 1 });
/** How many times each one occurs, in sorted order. */
const tally = (xs: string[]) =>
  [...xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>())].sort(([a], [b]) =>
    a < b ? -1 : 1,
  );
const audited = (report: RoundReport) => report.results.flatMap((r) => r.audited);

/** Drift from outside the service: someone wrote the node item by hand. */
async function corrupt(nodeId: string) {
  await store.doc.send(
    new UpdateCommand({
      TableName: store.tableName,
      Key: { pk: `NODE#${nodeId}`, sk: 'NODE' },
      UpdateExpression: 'SET memoryMbUsed = :m',
      ExpressionAttributeValues: { ':m': 9999 },
    }),
  );
}

async function generation(nodeId: string): Promise<number> {
  const out = await store.doc.send(
    new GetCommand({ TableName: store.tableName, Key: { pk: `NODE#${nodeId}`, sk: 'NODE' }, ConsistentRead: true }),
  );
  return Number(out.Item?.generation);
}

test(`the plan cuts ${FLEET} nodes into slices of ${SLICE} that cover the index, the last one open-ended`, async () => {
  const { slices, nodes } = await plan({ sliceSize: SLICE, pageSize: PAGE });
  expect(nodes).toBe(FLEET);
  expect(slices).toHaveLength(Math.ceil(FLEET / SLICE));
  expect(slices[0]).toEqual({ index: 0, last: ids[SLICE - 1] });
  expect(slices[1]).toEqual({ index: 1, after: ids[SLICE - 1], last: ids[2 * SLICE - 1] });
  expect(slices.at(-1)).toEqual({ index: slices.length - 1, after: ids[(slices.length - 1) * SLICE - 1] });
});

test('a round audits every node exactly once, in its slice, and finds the drift in the last slice', async () => {
  const last = ids.at(-1)!;
  await corrupt(last);
  const report = await round();
  expect(report.failed).toEqual([]);
  expect(report.slices).toBe(Math.ceil(FLEET / SLICE));
  expect(report.attempts).toEqual(Array(report.slices).fill(1));
  expect(audited(report)).toEqual(ids);
  expect(tally(reads)).toEqual(ids.map((id) => [id, 1]));
  expect(report.results.map((r) => r.repaired)).toEqual([...Array(report.slices - 1).fill([]), [last]]);
  expect(writes).toEqual([last]);
  await expectLedgerExact(store, last);
  // Back to what an unclaimed neighbour shows.
  const neighbour = (await api('GET', `/nodes/${ids.at(-2)}`)).body;
  expect((await api('GET', `/nodes/${last}`)).body.memoryMbUsed).toBe(neighbour.memoryMbUsed);
});

test('a slice that fails is tried again whole; the nodes it audited twice are repaired once and stay exact', async () => {
  // Slice 3 is ids[21..27]: one node in it drifted, another fails on the first attempt only.
  const [drifted, flaky] = [ids[22]!, ids[26]!];
  await corrupt(drifted);
  faults.set(flaky, 1);
  const before = await generation(drifted);
  const report = await round();
  expect(report.failed).toEqual([]);
  expect(report.attempts).toEqual(report.attempts.map((_, i) => (i === 3 ? 2 : 1)));
  // Every node once in the round's results; the retried slice's nodes were read on both attempts.
  expect(audited(report)).toEqual(ids);
  const inSlice3 = new Set(ids.slice(21, 28));
  expect(tally(reads)).toEqual(ids.map((id) => [id, inSlice3.has(id) ? 2 : 1]));
  // The first attempt repaired the node; the second found it exact and wrote nothing.
  expect(writes).toEqual([drifted]);
  expect(await generation(drifted)).toBe(before + 1);
  await expectLedgerExact(store, drifted);
});

test('a slice that fails every attempt fails the round; the other slices are audited', async () => {
  faults.set(ids[0]!, 99);
  const report = await round();
  expect(report.failed).toEqual([{ index: 0, error: expect.stringContaining(ids[0]!) }]);
  expect(report.attempts[0]).toBe(3);
  expect(audited(report)).toEqual(ids.slice(SLICE));
});

test('a node registered after the plan is audited by the open-ended last slice; a deleted one is skipped', async () => {
  const planned = await plan({ sliceSize: SLICE, pageSize: PAGE });
  const [late, gone] = ['round-zz', ids[10]!];
  expect((await api('PUT', `/nodes/${late}`, N0)).status).toBe(201);
  expect((await api('DELETE', `/nodes/${gone}`)).status).toBe(204);
  const report = await runAuditRound({ plan: async () => planned, retryDelayMs: 1 });
  expect(report.failed).toEqual([]);
  expect(audited(report)).toEqual([...ids.filter((id) => id !== gone), late]);
  expect(report.results.flatMap((r) => r.gone)).toEqual([]);
});

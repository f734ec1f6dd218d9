// DynamoDB's contention simulated (rule CU4): overlapping transactions on one item are cancelled with
// TransactionConflict, and claims that meet those conflicts retry without ever booking a vCPU twice.
import { PutItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { Contention } from '../support/contention';
import { ONE_VCPU, roomForVcpus, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { requestsSent } from '../support/requests';
import { freshTable } from '../support/table';

let store: Store;
let remove: (() => void) | undefined;
beforeAll(async () => {
  store = await freshTable('contention');
});
afterEach(() => {
  remove?.();
  remove = undefined;
});

const put = (pk: string) => ({ Put: { TableName: store.tableName, Item: { pk: { S: pk }, sk: { S: 'X' } } } });
const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { name: string; CancellationReasons?: { Code?: string }[] }) =>
      `${e.name} ${(e.CancellationReasons ?? []).map((r) => r.Code).join(',')}`.trim(),
  );

test('a transaction that overlaps another on one of its items is cancelled with TransactionConflict on that item', async () => {
  const contention = new Contention({ latencyMs: 30 });
  remove = contention.attach(store.client);
  const first = failureOf(store.client.send(new TransactWriteItemsCommand({ TransactItems: [put('a'), put('b')] })));
  const overlapping = failureOf(
    store.client.send(new TransactWriteItemsCommand({ TransactItems: [put('c'), put('b')] })),
  );
  const disjoint = failureOf(store.client.send(new TransactWriteItemsCommand({ TransactItems: [put('d')] })));
  const single = failureOf(store.client.send(new PutItemCommand(put('a').Put)));
  expect(await Promise.all([first, overlapping, disjoint, single])).toEqual([
    'ok',
    'TransactionCanceledException None,TransactionConflict',
    'ok',
    'TransactionConflictException',
  ]);
  expect(contention.counts).toMatchObject({ transactions: 3, cancelled: 1, singleWrites: 1 });
  // Once the first has committed, the same write goes through.
  expect(await failureOf(store.client.send(new PutItemCommand(put('a').Put)))).toBe('ok');
});

test('48 concurrent claims of one server group on a node with room for 20 meet conflicts, retry, and book exactly what landed', async () => {
  // A group member's claim writes the group's item too, so it is retried (rule CU4), never combined (CU5).
  const contention = new Contention({ latencyMs: 10 });
  remove = contention.attach(runtime().store.client);
  await api('PUT', '/nodes/hot', roomForVcpus(20));
  expect((await api('PUT', '/server-groups/hot-group', { policy: 'affinity' })).status).toBe(201);
  const claim = { flavor: ONE_VCPU, serverGroup: 'hot-group' };
  let replies: { status: number }[] = [];
  const sent = await requestsSent(runtime().store, async () => {
    replies = await Promise.all(
      Array.from({ length: 48 }, () =>
        api('POST', '/nodes/hot/instances', { ...claim, instanceUuid: uuid() }, { prefer: 'return=minimal' }),
      ),
    );
  });
  const statuses = replies.map((r) => r.status);
  expect(contention.counts.cancelled).toBeGreaterThan(0);
  const landed = statuses.filter((s) => s === 201).length;
  // A claim that ran out of attempts answers 503 and changed nothing; every other one either landed or was refused.
  expect(statuses.every((s) => s === 201 || s === 409 || s === 503)).toBe(true);
  expect(landed).toBeLessThanOrEqual(20);
  const { node, instances } = await expectLedgerExact(store, 'hot');
  expect(instances).toHaveLength(landed);
  expect(node.vcpusUsed).toBe(landed);
  if (landed < 20) expect(statuses).toContain(503);
  // Retried, and none waited as an item (a waiting item is a claim's only PutItem of its own).
  expect(sent.filter((c) => c === 'TransactWriteItems').length).toBeGreaterThan(48);
  expect(sent).not.toContain('PutItem');
});

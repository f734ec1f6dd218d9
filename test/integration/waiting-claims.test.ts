// Claims that meet another transaction on their node item wait as items of their own and are committed together
// (rule CU5): every claim lands once or is refused, the node is never overbooked, a request that dies while its
// claim waits loses nothing, and a waiting item past its time is never committed.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import { hotNodes } from '../../lib/store/waiting-items';
import { api } from '../support/api';
import { Contention } from '../support/contention';
import { F1, F2, ONE_VCPU, roomForVcpus, uuid } from '../support/fixtures';
import { injectFaults } from '../support/faults';
import { expectLedgerExact, partition } from '../support/ledger';
import { requestsSent } from '../support/requests';
import { freshTable } from '../support/table';

let store: Store;
const undo: (() => void)[] = [];
beforeAll(async () => {
  await freshTable('waiting');
  store = runtime().store; // the handlers' own client, so that the faults and the simulation hit them
});
afterEach(() => {
  while (undo.length) undo.pop()?.();
  hotNodes.forget();
});

let seq = 0;
async function node(vcpus = 64) {
  const id = `wait-${++seq}`;
  await api('PUT', `/nodes/${id}`, roomForVcpus(vcpus));
  return id;
}

const claim = (id: string, instanceUuid: string = uuid(), flavor: object = ONE_VCPU) =>
  api('POST', `/nodes/${id}/instances`, { instanceUuid, flavor }, { prefer: 'return=minimal' });

/** The handlers' next `times` transactions meet a conflict, as if another claim held the node item; undone after the test. */
function conflicts(times = 1) {
  const conflict = injectFaults(store, { command: 'TransactWriteItemsCommand', fault: 'conflict', times });
  undo.push(conflict.remove);
  return conflict;
}

/** The requests one claim sends, that claim landing. */
const requestsOfClaim = (id: string) => requestsSent(store, async () => expect((await claim(id)).status).toBe(201));

/** The waiting items in a node's partition. */
async function waitingItems(id: string) {
  return (await partition(store, id)).filter((i) => String(i.sk).startsWith('NODE#WAIT#'));
}

/** Whether a request of the handlers' client writes a waiting item (its input marshalled or not). */
function writesWaiting(command: string | undefined, input: unknown): boolean {
  const sk = (input as { Item?: { sk?: unknown } }).Item?.sk;
  const text = typeof sk === 'string' ? sk : (sk as { S?: string } | undefined)?.S;
  return command === 'PutItemCommand' && !!text?.startsWith('NODE#WAIT#');
}

/** Every request the handlers' client sends after a claim's waiting item is written fails, as if its process died. */
function dieAfterWaiting() {
  let dead = false;
  const name = `die-${Math.random()}`;
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (dead) throw new Error('the process died (injected)');
      const out = await next(args);
      if (writesWaiting(context.commandName, args.input)) dead = true;
      return out;
    },
    { step: 'initialize', name },
  );
  return () => store.client.middlewareStack.remove(name);
}

/** A request that dies once its claim waits: its first transaction meets a conflict, then nothing more is sent. */
async function leaveWaiting(id: string, instanceUuid: string, flavor: object = ONE_VCPU) {
  const conflict = injectFaults(store, { command: 'TransactWriteItemsCommand', fault: 'conflict', times: 1 });
  const die = dieAfterWaiting();
  try {
    expect((await claim(id, instanceUuid, flavor)).status).toBe(500);
  } finally {
    die();
    conflict.remove();
  }
  const [left] = await waitingItems(id);
  expect(left).toBeDefined();
  return left as Record<string, unknown>;
}

/** A claim that meets a conflict and waits behind `dead` claims whose requests died: it lands, with them. */
async function claimBehind(id: string, dead: number) {
  for (let n = 0; n < dead; n++) await leaveWaiting(id, uuid());
  const conflict = conflicts();
  expect((await claim(id)).status).toBe(201);
  expect(conflict.state.injected).toBe(1);
}

test('48 claims at once on a node with room for 20, under simulated contention: 20 land, 28 are refused, none gives up', async () => {
  const id = await node(20);
  const contention = new Contention({ latencyMs: 10 });
  undo.push(contention.attach(store.client));
  const sent = await requestsSent(store, async () => {
    const replies = await Promise.all(Array.from({ length: 48 }, () => claim(id)));
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array<number>(20).fill(201), ...Array<number>(28).fill(409)]);
  });
  expect(contention.counts.cancelled).toBeGreaterThan(0);
  expect(sent).toContain('Query');
  const { node: item, instances } = await expectLedgerExact(store, id);
  expect(instances).toHaveLength(20);
  expect(item.vcpusUsed).toBe(20);
  expect(await waitingItems(id)).toEqual([]);
});

test('16 claims at once on a roomy node: all land, some in one transaction together, fewer transactions than claims', async () => {
  const id = await node();
  const contention = new Contention({ latencyMs: 10 });
  undo.push(contention.attach(store.client));
  const replies = await Promise.all(Array.from({ length: 16 }, () => claim(id)));
  expect(replies.map((r) => r.status)).toEqual(Array<number>(16).fill(201));
  const { node: item, instances } = await expectLedgerExact(store, id);
  expect(instances).toHaveLength(16);
  // The generation counts the node item's writes: one per committed transaction, however many claims it carried.
  expect(item.generation - 1).toBeLessThan(16);
  expect(await waitingItems(id)).toEqual([]);
});

test('after a read showed 4 claims waiting on a node, this process sends its claims there to wait at once, for a second', async () => {
  const id = await node();
  // The claim's own transaction meets the conflict: it waits with the 3 left behind, and sends their batch.
  await claimBehind(id, 3);
  // No transaction of its own first: on a hot node it would only hold the node item against the next batch.
  expect(await requestsOfClaim(id)).toEqual(['PutItem', 'Query', 'TransactWriteItems']);
  await new Promise((r) => setTimeout(r, 1_100));
  expect(await requestsOfClaim(id)).toEqual(['TransactWriteItems']);
  const { instances } = await expectLedgerExact(store, id);
  expect(instances).toHaveLength(6);
  expect(await waitingItems(id)).toEqual([]);
});

test('a claim that waited behind two others only tries alone again', async () => {
  const id = await node();
  await claimBehind(id, 2);
  expect(await requestsOfClaim(id)).toEqual(['TransactWriteItems']);
  expect((await expectLedgerExact(store, id)).instances).toHaveLength(4);
});

test('a claim whose request died while it waited is committed by the next batch, and its retry answers with it', async () => {
  const id = await node();
  const dead = uuid();
  await leaveWaiting(id, dead, F1);
  // Until a batch commits it, a waiting claim is no part of the node: its view, its ledger and its audit.
  expect((await api('GET', `/nodes/${id}`)).body).toMatchObject({ vcpusUsed: 0, runningVms: 0 });
  expect((await api('POST', `/nodes/${id}/audit`, {})).body.drift).toEqual({
    memoryMbUsed: 0,
    localGbUsed: 0,
    vcpusUsed: 0,
  });
  conflicts();
  expect((await claim(id)).status).toBe(201);
  const { instances } = await expectLedgerExact(store, id);
  expect(instances.map((i) => i.instanceUuid)).toContain(dead);
  expect(instances).toHaveLength(2);
  // The client's retry of the request that died finds its claim made.
  const retry = await api('POST', `/nodes/${id}/instances`, { instanceUuid: dead, flavor: F1 });
  expect(retry.status).toBe(200);
  expect(await waitingItems(id)).toEqual([]);
});

test('a waiting item past its time is never committed: the next batch deletes it, and a retry claims afresh', async () => {
  const id = await node();
  const dead = uuid();
  const left = await leaveWaiting(id, dead, F1);
  await store.doc.send(
    new UpdateCommand({
      TableName: store.tableName,
      Key: { pk: left.pk, sk: left.sk },
      UpdateExpression: 'SET #until = :past',
      ExpressionAttributeNames: { '#until': 'until' },
      ExpressionAttributeValues: { ':past': Date.now() - 60_000 },
    }),
  );
  const conflict = conflicts();
  expect((await claim(id)).status).toBe(201);
  const { instances } = await expectLedgerExact(store, id);
  expect(instances.map((i) => i.instanceUuid)).not.toContain(dead);
  expect(await waitingItems(id)).toEqual([]);
  conflict.remove();
  expect((await api('POST', `/nodes/${id}/instances`, { instanceUuid: dead, flavor: F1 })).status).toBe(201);
});

test('two different claims of one instance wait at once: one lands, the other is a conflict', async () => {
  const id = await node();
  const same = uuid();
  conflicts(2);
  const replies = await Promise.all([claim(id, same, F1), claim(id, same, F2)]);
  expect(replies.map((r) => r.status).sort()).toEqual([201, 409]);
  const { instances } = await expectLedgerExact(store, id);
  expect(instances).toHaveLength(1);
  expect(await waitingItems(id)).toEqual([]);
});

test('a batch whose answer is lost after it committed counts its claims once', async () => {
  const id = await node();
  conflicts();
  // The claim's own transaction meets the conflict; the batch it then commits loses its answer.
  const lost = injectFaults(store, { command: 'TransactWriteItemsCommand', fault: 'lost-response', times: 2 });
  undo.push(lost.remove);
  expect((await claim(id)).status).toBe(201);
  const { node: item, instances } = await expectLedgerExact(store, id);
  expect(instances).toHaveLength(1);
  expect(item.vcpusUsed).toBe(1);
  expect(await waitingItems(id)).toEqual([]);
});

test('a waiting claim the node can no longer take is refused and leaves nothing behind', async () => {
  const id = await node(1);
  const dead = uuid();
  await leaveWaiting(id, dead);
  // The node fills behind the waiting claims' backs: the batch takes the older one, the newer is refused.
  conflicts();
  expect((await claim(id)).status).toBe(409);
  const { instances } = await expectLedgerExact(store, id);
  expect(instances.map((i) => i.instanceUuid)).toEqual([dead]);
  expect(await waitingItems(id)).toEqual([]);
});

test('a claim of an instance another waiting claim holds waits its turn, then is a conflict', async () => {
  const id = await node();
  const same = uuid();
  await leaveWaiting(id, same, F1);
  conflicts();
  // One transaction may write an instance's items once: the older waiting claim goes first, alone.
  expect((await claim(id, same, F2)).status).toBe(409);
  const { instances } = await expectLedgerExact(store, id);
  expect(instances.map((i) => [i.instanceUuid, i.memoryMb])).toEqual([[same, F1.memoryMb]]);
  expect(await waitingItems(id)).toEqual([]);
});

test('a batch sent after the node filled since it was read is refused by the node item, and nothing is overbooked', async () => {
  const id = await node(1);
  conflicts();
  // Between the batch's read and its send, another claim takes the node's last vCPU.
  let filled = false;
  const name = `fill-${Math.random()}`;
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      const items = (args.input as { TransactItems?: unknown[] }).TransactItems ?? [];
      if (context.commandName === 'TransactWriteItemsCommand' && items.length > 3 && !filled) {
        filled = true;
        // Another process's claim: it has seen no conflict on this node, so it goes alone.
        hotNodes.forget();
        expect((await claim(id)).status).toBe(201);
      }
      return next(args);
    },
    { step: 'initialize', name },
  );
  undo.push(() => store.client.middlewareStack.remove(name));
  expect((await claim(id)).status).toBe(409);
  expect(filled).toBe(true);
  const { node: item, instances } = await expectLedgerExact(store, id);
  expect(instances).toHaveLength(1);
  expect(item.vcpusUsed).toBe(1);
  expect(await waitingItems(id)).toEqual([]);
});

// A claim that waits decides a refusal off the node; its owner item comes first, as in its own transaction.
describe('a waiting claim on a full node is answered as its own transaction would be', () => {
  test('this request sent again, its claim made: 200 with that claim, not a refusal', async () => {
    const id = await node(1);
    const i = uuid();
    expect((await claim(id, i)).status).toBe(201);
    hotNodes.mark(store, id);
    const again = await claim(id, i);
    expect({ status: again.status, error: again.body?.error }).toEqual({ status: 200, error: undefined });
    expect(await waitingItems(id)).toEqual([]);
  });

  test('the claim of an instance held on another node: 409 InstanceConflict', async () => {
    const [elsewhere, id] = [await node(), await node(1)];
    const i = uuid();
    expect((await claim(elsewhere, i)).status).toBe(201);
    expect((await claim(id)).status).toBe(201);
    hotNodes.mark(store, id);
    const res = await claim(id, i);
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 409, error: 'InstanceConflict' });
  });

  test('the released claim sent again: 409 InstanceConflict', async () => {
    const id = await node(1);
    const i = uuid();
    expect((await claim(id, i)).status).toBe(201);
    expect((await api('DELETE', `/nodes/${id}/instances/${i}`)).status).toBe(204);
    expect((await claim(id)).status).toBe(201);
    hotNodes.mark(store, id);
    const res = await claim(id, i);
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 409, error: 'InstanceConflict' });
    await expectLedgerExact(store, id);
  });
});

test('a claim whose request died while it waited, refused on the client retry, is never committed after that answer', async () => {
  const id = await node(1);
  const held = uuid();
  expect((await claim(id, held)).status).toBe(201);
  const x = uuid();
  await leaveWaiting(id, x);
  const retry = await claim(id, x);
  expect({ status: retry.status, error: retry.body.error }).toEqual({ status: 409, error: 'InsufficientResources' });
  // The room comes back, and the next claim waits beside the dead request's waiting item: that claim is gone.
  expect((await api('DELETE', `/nodes/${id}/instances/${held}`)).status).toBe(204);
  const conflict = conflicts();
  const next = uuid();
  expect((await claim(id, next)).status).toBe(201);
  expect(conflict.state.injected).toBe(1);
  const { instances } = await expectLedgerExact(store, id);
  expect(instances.map((i) => i.instanceUuid)).toEqual([next]);
});

/** Holds the first Query sent after a waiting item is written (that claim's first look) until `release()`. */
function holdFirstLook() {
  let [armed, held] = [false, false];
  let arrive = () => {};
  let release = () => {};
  const reached = new Promise<void>((r) => (arrive = r));
  const gate = new Promise<void>((r) => (release = r));
  const name = `hold-look-${Math.random()}`;
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'QueryCommand' && armed && !held) {
        held = true;
        arrive();
        await gate;
      }
      const out = await next(args);
      if (writesWaiting(context.commandName, args.input)) armed = true;
      return out;
    },
    { step: 'initialize', name },
  );
  undo.push(() => store.client.middlewareStack.remove(name));
  return { reached, release };
}

test('a waiting claim that another request of the same claim answered no meanwhile is not committed after that: 503', async () => {
  const id = await node(1);
  const held = uuid();
  expect((await claim(id, held)).status).toBe(201);
  const x = uuid();
  conflicts();
  const look = holdFirstLook();
  const waiting = claim(id, x);
  await look.reached;
  const twin = await claim(id, x);
  expect({ status: twin.status, error: twin.body.error }).toEqual({ status: 409, error: 'InsufficientResources' });
  // Room comes back before the waiting request looks again: taking it now would go back on the twin's answer.
  expect((await api('DELETE', `/nodes/${id}/instances/${held}`)).status).toBe(204);
  look.release();
  const first = await waiting;
  expect({ status: first.status, error: first.body.error }).toEqual({ status: 503, error: 'Unavailable' });
  const { instances } = await expectLedgerExact(store, id);
  expect(instances).toEqual([]);
  expect(await waitingItems(id)).toEqual([]);
});

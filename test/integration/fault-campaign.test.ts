// Faults under the model: the campaign with DynamoDB failures and dying Lambdas injected, then the
// multi-step operations crashed between their steps one by one, and the status queue fed duplicates,
// reordered batches and redeliveries. Each ends with the ledger equal to the model's: nothing lost,
// nothing counted twice.
import '../support/quiet-logs';
import { randomUUID } from 'node:crypto';
import type { SQSEvent } from 'aws-lambda';
import { handler as queueHandler } from '../../functions/migration-status-queue';
import { runtime } from '../../lib/api/runtime';
import { readNodePartition } from '../../lib/store/query';
import type { Store } from '../../lib/store';
import { lambdaContext, sqsRecord } from '../../local/events';
import { newTotals, replayFromEnv, runCampaign } from '../model/campaign';
import { api, type Reply } from '../support/api';
import { injectChaos, seeded, type Chaos } from '../support/chaos';
import { injectFaults } from '../support/faults';
import { F1, F2, N0, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { expectPciExact, readDevices } from '../support/pci';
import { freshTable } from '../support/table';

let store: Store;
let chaos: Chaos | undefined;
beforeAll(async () => {
  await freshTable('fault-campaign');
  store = runtime().store;
});
afterEach(() => {
  chaos?.remove();
  chaos = undefined;
});

test('the campaign with conflicts, throttling, 500s, lost responses and dying Lambdas still agrees with the model', async () => {
  const totals = newTotals();
  const replay = replayFromEnv();
  // Which request draws which fault depends on timing (4 workers at once), so a rare kind can go unmet in
  // one run: the next seed runs then, until every kind was met (or the proof is short, and the test fails).
  for (
    let run = 0;
    run < 3 && (run === 0 || (replay.seed === undefined && !replay.path && unmet(totals).length));
    run++
  ) {
    const result = await runCampaign(
      {
        label: 'fc',
        workers: 4,
        containers: 3,
        slots: 2,
        opsPerWorker: 3,
        steps: 48,
        runs: 1,
        seed: 7_340_021 + run,
        timeLimitMs: 90_000,
        // Conflicts exist only for transactions, a fraction of the requests: at 5% a run could meet none.
        chaos: { rate: 0.08, kinds: ['conflict', 'throttle', 'server-error', 'lost-response'], crashRate: 0.1 },
        ...replay,
      },
      totals,
    );
    if (result.failed) throw new Error(result.report);
  }
  console.log(
    `fault campaign: ${totals.ops} operations, ${totals.checks} checks, faults ${JSON.stringify(totals.faults)}, 5xx retried ${totals.retried5xx}`,
  );
  expect(totals.ops).toBeGreaterThan(80);
  // Every kind of fault was met at least once, or the campaign proved less than it claims.
  expect(unmet(totals)).toEqual([]);
}, 300_000);

const unmet = (totals: ReturnType<typeof newTotals>) =>
  Object.entries(totals.faults)
    .filter(([, n]) => n === 0)
    .map(([kind]) => kind);

/** Sends the request until it answers below 500, as a client retries a failed Lambda; the first attempt dies at `crashAt`. */
async function crashOnce(
  crashAt: number,
  afterCommit: boolean,
  send: () => Promise<Reply>,
): Promise<{ first: Reply; last: Reply; crashes: number }> {
  let crash = true;
  chaos = injectChaos(store, { rate: 0, kinds: [], crashRate: 1, random: seeded(1) });
  const c = chaos;
  // Pin where the first attempt dies: the seeded draws are replaced by a fixed plan.
  const run = <T>(fn: () => Promise<T>) => {
    if (!crash) return fn();
    crash = false;
    return c.request(fn, { crashAt, afterCommit });
  };
  const first = await run(send);
  let last = first;
  for (let i = 0; last.status >= 500 && i < 5; i++) last = await run(send);
  const crashes = c.counts['crash-after-commit'] + c.counts['crash-before-send'];
  c.remove();
  chaos = undefined;
  return { first, last, crashes };
}

let seq = 0;
const fresh = (prefix: string) => `${prefix}-${++seq}`;

async function node(id = fresh('crash'), body: object = N0) {
  expect((await api('PUT', `/nodes/${id}`, body)).status).toBe(201);
  return id;
}

async function usage(nodeId: string) {
  await expectLedgerExact(store, nodeId);
  const n = (await api('GET', `/nodes/${nodeId}`)).body;
  return `${n.memoryMbUsed}/${n.localGbUsed}/${n.vcpusUsed} runningVms ${n.runningVms}`;
}

describe('a Lambda that dies between the steps of a request, and the client that retries it', () => {
  // DELETE of a moving instance: GetItem (the record), then the cancellation (GetItem, TransactWriteItems),
  // then the release (GetItem, TransactWriteItems).
  test.each([
    [3, true, 'after the cancellation committed'],
    [4, false, 'after the cancellation, before the release reads'],
    [5, false, 'just before the release is sent'],
    [5, true, 'after the release committed'],
  ])(
    'releasing a moving instance dies at command %i (%s, %s): the retry finishes the job',
    async (crashAt, afterCommit) => {
      const [a, b] = [await node(), await node()];
      const i = uuid();
      expect((await api('POST', `/nodes/${a}/instances`, { instanceUuid: i, flavor: F1 })).status).toBe(201);
      const m = fresh('mig');
      expect(
        (
          await api('POST', `/nodes/${b}/move-claims`, {
            migrationId: m,
            instanceUuid: i,
            moveType: 'resize',
            sourceNodeId: a,
            newFlavor: F2,
          })
        ).status,
      ).toBe(201);
      const { first, last, crashes } = await crashOnce(crashAt, afterCommit, () =>
        api('DELETE', `/nodes/${a}/instances/${i}`),
      );
      expect(crashes).toBe(1);
      expect(first.status).toBe(500);
      expect(last.status).toBe(204);
      expect([await usage(a), await usage(b)]).toEqual(['0/0/0 runningVms 0', '0/0/0 runningVms 0']);
      expect((await api('GET', `/migrations/${m}`)).body.status).toBe('cancelled');
      expect((await api('GET', `/nodes/${a}/instances/${i}`)).status).toBe(404);
    },
  );

  test.each([true, false])(
    'a claim whose Lambda dies after DynamoDB committed (%s) or before it sent is retried and claimed once',
    async (afterCommit) => {
      const n = await node();
      const i = uuid();
      const { first, last } = await crashOnce(1, afterCommit, () =>
        api('POST', `/nodes/${n}/instances`, { instanceUuid: i, flavor: F1 }),
      );
      expect(first.status).toBe(500);
      // The retry finds its own claim (200) when the first attempt committed, else it makes it (201).
      expect(last.status).toBe(afterCommit ? 200 : 201);
      expect(await usage(n)).toBe('128/1/1 runningVms 1');
    },
  );

  test('a move claim and a status change that die after committing are retried without holding twice', async () => {
    const [a, b] = [await node(), await node()];
    const i = uuid();
    await api('POST', `/nodes/${a}/instances`, { instanceUuid: i, flavor: F1 });
    const m = fresh('mig');
    // The move claim reads (BatchGetItem) then writes: die after the write.
    const claim = await crashOnce(2, true, () =>
      api('POST', `/nodes/${b}/move-claims`, {
        migrationId: m,
        instanceUuid: i,
        moveType: 'resize',
        sourceNodeId: a,
        newFlavor: F2,
      }),
    );
    expect([claim.first.status, claim.last.status]).toEqual([500, 200]);
    expect([await usage(a), await usage(b)]).toEqual(['128/1/1 runningVms 1', '256/5/2 runningVms 0']);
    // finished: GetItem, TransactWriteItems; die after the write.
    const status = await crashOnce(2, true, () =>
      api('POST', `/migrations/${m}/status`, { status: 'finished', sequence: 1 }),
    );
    expect(status.first.status).toBe(500);
    expect(status.last.body).toMatchObject({ status: 'finished', sequence: 1, applied: false });
    expect([await usage(a), await usage(b)]).toEqual(['128/1/1 runningVms 0', '256/5/2 runningVms 1']);
  });

  test.each([1, 2, 3])(
    'a node PUT of 200 devices (three chunked transactions) dies after chunk %i: the retry reconciles the rest and the pools are exact',
    async (chunk) => {
      const id = fresh('many');
      const devices = (n: number, from = 0) =>
        Array.from({ length: n }, (_, k) => ({
          address: `0000:${(0x10 + ((k + from) >> 3)).toString(16)}:00.${(k + from) & 7}`,
          vendorId: '8086',
          productId: '1520',
          numaNode: 0,
        }));
      await node(id, { ...N0, pciDevices: devices(10) });
      const i = uuid();
      const held = await api('POST', `/nodes/${id}/instances`, {
        instanceUuid: i,
        flavor: F1,
        pciRequests: [{ count: 2, spec: [{ vendorId: '8086' }] }],
      });
      expect(held.status).toBe(201);
      // Commands: the Query of the node and its devices, then one TransactWriteItems per 90 changes.
      const reported = devices(200, 5);
      const { first, last } = await crashOnce(1 + chunk, true, () =>
        api('PUT', `/nodes/${id}`, { ...N0, pciDevices: reported }),
      );
      expect(first.status).toBe(500);
      expect(last.status).toBe(200);
      const { devices: stored } = await expectPciExact(store, id);
      // The devices held by the claim stay (removed if no longer reported) until released.
      const kept = new Set([...reported.map((d) => d.address), ...(held.body.pciDevices as string[])]);
      expect(stored.map((d) => d.address).sort()).toEqual([...kept].sort());
      const view = (await api('GET', `/nodes/${id}`)).body;
      const stillReported = (held.body.pciDevices as string[]).filter((a) =>
        reported.some((d) => d.address === a),
      ).length;
      expect(view.pciDevicePools).toEqual([expect.objectContaining({ count: 200, free: 200 - stillReported })]);
      expect((await api('DELETE', `/nodes/${id}/instances/${i}`)).status).toBe(204);
      expect((await readDevices(store, id)).map((d) => d.address).sort()).toEqual(
        reported.map((d) => d.address).sort(),
      );
      await expectPciExact(store, id);
    },
  );
});

describe('the status queue: duplicates, reordering and redelivery', () => {
  const record = (body: string, groupId: string, messageId = randomUUID(), receiveCount = 1) =>
    sqsRecord({
      messageId,
      body,
      groupId,
      deduplicationId: randomUUID(),
      sequenceNumber: '1',
      sentAt: Date.now(),
      receiveCount,
    });
  const consume = (event: SQSEvent) => queueHandler(event, lambdaContext('migration-status-queue'));
  const update = (migrationId: string, status: string, sequence: number) =>
    JSON.stringify({ migrationId, status, sequence });

  test('a batch redelivered after its Lambda died mid-way, with a duplicate and an older message, applies each status once', async () => {
    const [a, b] = [await node(), await node()];
    const i = uuid();
    await api('POST', `/nodes/${a}/instances`, { instanceUuid: i, flavor: F1 });
    const m = fresh('mig');
    await api('POST', `/nodes/${b}/move-claims`, {
      migrationId: m,
      instanceUuid: i,
      moveType: 'resize',
      sourceNodeId: a,
      newFlavor: F2,
    });
    const finished = record(update(m, 'finished', 2), i);
    const confirmed = record(update(m, 'confirmed', 3), i);
    // Out of order (confirmed first) and a duplicate: confirmed applies, finished (older) is ignored.
    chaos = injectChaos(store, { rate: 0, kinds: [], crashRate: 1, random: seeded(3) });
    const c = chaos;
    const died = await c.request(
      () => consume({ Records: [confirmed, finished, record(update(m, 'confirmed', 3), i)] }),
      // confirmed: GetItem, TransactWriteItems; die after the write.
      { crashAt: 2, afterCommit: true },
    );
    c.remove();
    chaos = undefined;
    // The Lambda died after the confirmation committed: every message of the group failed and comes back.
    expect(died.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      confirmed.messageId,
      finished.messageId,
      expect.any(String),
    ]);
    const again = await consume({
      Records: [
        { ...confirmed, attributes: { ...confirmed.attributes, ApproximateReceiveCount: '2' } },
        finished,
        record(update(m, 'migrating', 1), i),
      ],
    });
    expect(again.batchItemFailures).toEqual([]);
    expect((await api('GET', `/migrations/${m}`)).body).toMatchObject({ status: 'confirmed', sequence: 3 });
    expect([await usage(a), await usage(b)]).toEqual(['0/0/0 runningVms 0', '256/5/2 runningVms 1']);
  });
});

describe('found by the campaign', () => {
  test('the claim of an instance that moved, sent again to its first node with PCI requests it can no longer meet, is a conflict', async () => {
    const pf = [{ address: '0000:05:00.0', vendorId: '8086', productId: '1572', deviceType: 'type-PF' }];
    const [a, b] = [await node(fresh('pci'), { ...N0, pciDevices: pf }), await node()];
    const i = uuid();
    const claim = { instanceUuid: i, flavor: F1, pciRequests: [{ count: 1, spec: [{ deviceType: 'type-PF' }] }] };
    expect((await api('POST', `/nodes/${a}/instances`, claim)).status).toBe(201);
    const m = fresh('mig');
    await api('POST', `/nodes/${b}/move-claims`, {
      migrationId: m,
      instanceUuid: i,
      moveType: 'migration',
      sourceNodeId: a,
    });
    await api('POST', `/migrations/${m}/status`, { status: 'finished', sequence: 1 });
    // The PF is still held for a revert; the instance now lives on b.
    const again = await api('POST', `/nodes/${a}/instances`, claim);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      error: 'InstanceConflict',
      message: `Instance ${i} is already claimed on node ${b}.`,
    });
  });
});

describe('found by the campaign: answers after a lost response', () => {
  test('registering a node whose write committed but whose response was lost still answers 201', async () => {
    const installed = injectFaults(store, { command: 'UpdateItemCommand', fault: 'lost-response', times: 1 });
    try {
      const res = await api('PUT', `/nodes/${fresh('lost')}`, N0);
      expect(installed.state.injected).toBe(1);
      expect(res.status).toBe(201);
    } finally {
      installed.remove();
    }
  });

  test('deleting a node whose delete committed but whose response was lost answers 204, and its devices go too', async () => {
    const n = await node(fresh('lost-delete'), {
      ...N0,
      pciDevices: [0, 1].map((k) => ({ address: `0000:81:00.${k}`, vendorId: '8086', productId: '1520', numaNode: 0 })),
    });
    const installed = injectFaults(store, { command: 'DeleteItemCommand', fault: 'lost-response', times: 1 });
    try {
      const res = await api('DELETE', `/nodes/${n}`);
      expect(installed.state.injected).toBe(1);
      expect({ status: res.status, error: res.body?.error }).toEqual({ status: 204, error: undefined });
    } finally {
      installed.remove();
    }
    expect(await readDevices(store, n)).toEqual([]);
    expect((await api('GET', `/nodes/${n}`)).status).toBe(404);
  });

  test('a node DELETE that dies once the node item is gone: the retry answers 404 and removes what the node left', async () => {
    const nic = { address: '0000:81:00.0', vendorId: '8086', productId: '1520', numaNode: 0 };
    const n = await node(fresh('die-delete'), { ...N0, pciDevices: [nic] });
    // Commands: the DeleteItem of the node item (the first attempt dies after it), the Query, the deletes.
    const { first, last } = await crashOnce(1, true, () => api('DELETE', `/nodes/${n}`));
    expect([first.status, last.status]).toEqual([500, 404]);
    expect(await readNodePartition(store, n)).toEqual([]);
  });

  test('deleting a server group whose delete committed but whose response was lost answers 204', async () => {
    const g = fresh('lost-group');
    expect((await api('PUT', `/server-groups/${g}`, { policy: 'anti-affinity' })).status).toBe(201);
    const installed = injectFaults(store, { command: 'DeleteItemCommand', fault: 'lost-response', times: 1 });
    try {
      const res = await api('DELETE', `/server-groups/${g}`);
      expect(installed.state.injected).toBe(1);
      expect({ status: res.status, error: res.body?.error }).toEqual({ status: 204, error: undefined });
    } finally {
      installed.remove();
    }
    expect((await api('GET', `/server-groups/${g}`)).status).toBe(404);
  });

  test("an agent's audit whose repair committed but whose response was lost still answers the orphans' drift", async () => {
    const n = await node();
    const installed = injectFaults(store, { command: 'UpdateItemCommand', fault: 'lost-response', times: 1 });
    try {
      const res = await api('POST', `/nodes/${n}/audit`, { orphans: [{ instanceUuid: uuid(), memoryMb: 96 }] });
      expect(installed.state.injected).toBe(1);
      expect({ status: res.status, drift: res.body.drift }).toEqual({
        status: 200,
        drift: { vcpusUsed: 0, memoryMbUsed: 96, localGbUsed: 0 },
      });
    } finally {
      installed.remove();
    }
    // Repaired once: the next audit finds nothing to change.
    const again = await api('POST', `/nodes/${n}/audit`, {});
    expect(again.body.drift).toEqual({ vcpusUsed: 0, memoryMbUsed: 0, localGbUsed: 0 });
  });
});

test('a state change that releases, whose commit response was lost, answers 200 with tracked=false', async () => {
  const n = await node();
  const i = uuid();
  await api('POST', `/nodes/${n}/instances`, { instanceUuid: i, flavor: F1 });
  const installed = injectFaults(store, { command: 'TransactWriteItemsCommand', fault: 'lost-response', times: 1 });
  try {
    const res = await api('PATCH', `/nodes/${n}/instances/${i}`, { vmState: 'deleted' });
    expect(installed.state.injected).toBe(1);
    expect({ status: res.status, tracked: res.body.tracked }).toEqual({ status: 200, tracked: false });
  } finally {
    installed.remove();
  }
  expect(await usage(n)).toBe('0/0/0 runningVms 0');
});

// Live migration under races, repeats, reordering, lost answers and statuses that never come (rules L2, L4,
// L6, M11): the ledger stays exact and nothing is held twice or forever.
import { randomUUID } from 'node:crypto';
import type { SQSEvent } from 'aws-lambda';
import { handler } from '../../functions/migration-status-queue';
import { runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import { lambdaContext, sqsRecord } from '../../local/events';
import { api } from '../support/api';
import { F1, F2, N0, ONE_VCPU, roomForVcpus, uuid } from '../support/fixtures';
import { injectFaults, WRITES } from '../support/faults';
import { expectLedgerExact } from '../support/ledger';
import { expectPciExact } from '../support/pci';
import { liveClaim, status, used as usedOn } from '../support/live-migration';
import { freshTable } from '../support/table';

let store: Store;
let remove: (() => void) | undefined;
beforeAll(async () => {
  await freshTable('live-faults');
  store = runtime().store; // the handlers' own client, so the faults hit them
});
afterEach(() => {
  remove?.();
  remove = undefined;
});

let seq = 0;
const fresh = (prefix: string) => `${prefix}-${++seq}`;

async function node(inventory: object = N0) {
  const id = fresh('lf');
  expect((await api('PUT', `/nodes/${id}`, inventory)).status).toBe(201);
  return id;
}

async function instance(nodeId: string, flavor: object = F1, extra: object = {}) {
  const id = uuid();
  const body = { instanceUuid: id, flavor, vmState: 'active', taskState: null, ...extra };
  expect((await api('POST', `/nodes/${nodeId}/instances`, body)).status).toBe(201);
  return id;
}

const used = (nodeId: string) => usedOn(store, nodeId);

/** An F1 instance on a fresh source, live-migrating to a fresh destination (accepted). */
async function live() {
  const [src, dst] = [await node(), await node()];
  const i = await instance(src);
  const m = fresh('mig');
  expect((await liveClaim(dst, m, i, src)).status).toBe(201);
  return { src, dst, i, m };
}

const HELD = ['128/1/1', '128/1/1'];

describe('racing claims for the last room of the destination', () => {
  test.each([1, 2, 3])(
    'round %i: a live migration and four instance claims want the last vCPU; exactly one wins',
    async () => {
      const [src, dst] = [await node(roomForVcpus(4)), await node(roomForVcpus(2))];
      await instance(dst, ONE_VCPU);
      const moving = await instance(src, ONE_VCPU);
      const m = fresh('mig');
      const answers = await Promise.all([
        liveClaim(dst, m, moving, src),
        ...[1, 2, 3, 4].map(() => api('POST', `/nodes/${dst}/instances`, { instanceUuid: uuid(), flavor: ONE_VCPU })),
      ]);
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 409).map((a) => a.body.error)).toEqual(
        Array(4).fill('InsufficientResources'),
      );
      const ledger = await expectLedgerExact(store, dst);
      expect(ledger.node.vcpusUsed).toBe(2);
      expect(ledger.instances.length + ledger.holds.length).toBe(2);
    },
  );

  test('a re-target and an instance claim race for the new destination; exactly one wins, the first hold stays or goes with it', async () => {
    const [src, d1, d2] = [await node(roomForVcpus(4)), await node(roomForVcpus(4)), await node(roomForVcpus(1))];
    const moving = await instance(src, ONE_VCPU);
    const m = fresh('mig');
    await liveClaim(d1, m, moving, src);
    const [retarget, claim] = await Promise.all([
      liveClaim(d2, m, moving, src),
      api('POST', `/nodes/${d2}/instances`, { instanceUuid: uuid(), flavor: ONE_VCPU }),
    ]);
    expect([retarget.status, claim.status].sort()).toEqual([201, 409]);
    const first = await expectLedgerExact(store, d1);
    expect(first.holds).toHaveLength(retarget.status === 201 ? 0 : 1);
    expect((await expectLedgerExact(store, d2)).node.vcpusUsed).toBe(1);
  });
});

describe('duplicate, reordered and late statuses (rule M11)', () => {
  test('over HTTP: a stale sequence, a step back, a late accepted and anything after completed change nothing', async () => {
    const { src, dst, m } = await live();
    expect((await status(m, 'running', 3)).body.applied).toBe(true);
    expect((await status(m, 'preparing', 2)).body.applied).toBe(false); // stale sequence
    expect((await status(m, 'queued', 4)).body.applied).toBe(false); // goes backwards
    expect((await status(m, 'accepted')).body.applied).toBe(false); // late
    expect((await status(m, 'running', 5)).body.applied).toBe(false); // repeat
    expect([await used(src), await used(dst)]).toEqual(HELD);
    expect((await status(m, 'completed', 6)).body.applied).toBe(true);
    for (const [s, n] of [
      ['completed', 7],
      ['failed', 8],
      ['running', 9],
    ] as const)
      expect((await status(m, s, n)).body.applied).toBe(false);
    expect([await used(src), await used(dst)]).toEqual(['0/0/0', '128/1/1']);
    expect((await api('GET', `/migrations/${m}`)).body).toMatchObject({ status: 'completed', sequence: 6 });
  });

  test('over the queue: redelivered and reordered messages apply once, a cold status is rejected alone', async () => {
    const { src, dst, i, m } = await live();
    const now = Date.now();
    const messages: [string, number][] = [
      ['running', 3],
      ['queued', 1],
      ['finished', 4],
      ['completed', 5],
      ['completed', 5],
      ['post-migrating', 4],
    ];
    const event: SQSEvent = {
      Records: messages.map(([s, n], k) =>
        sqsRecord({
          messageId: randomUUID(),
          body: JSON.stringify({ migrationId: m, status: s, sequence: n }),
          groupId: uuid(), // each its own group, so one failure holds nothing back
          deduplicationId: randomUUID(),
          sequenceNumber: String(k + 1).padStart(20, '0'),
          sentAt: now,
          receiveCount: 1,
        }),
      ),
    };
    const response = await handler(event, lambdaContext('migration-status-queue'));
    // `finished` is a cold move's status: it can never apply, so it is acknowledged and dropped (rule OP1).
    expect(response.batchItemFailures).toEqual([]);
    expect((await api('GET', `/migrations/${m}`)).body).toMatchObject({ status: 'completed', sequence: 5 });
    expect([await used(src), await used(dst)]).toEqual(['0/0/0', '128/1/1']);
    expect((await api('GET', `/nodes/${dst}/instances/${i}`)).status).toBe(200);
  });
});

describe('a lost answer on each step', () => {
  const lose = () => {
    const faults = injectFaults(store, { command: WRITES, fault: 'lost-response', times: 1 });
    remove = faults.remove;
    return faults;
  };

  test('the claim: 201 once, held once; the same claim again is 200', async () => {
    const [src, dst] = [await node(), await node()];
    const i = await instance(src);
    const m = fresh('mig');
    const faults = lose();
    expect((await liveClaim(dst, m, i, src)).status).toBe(201);
    expect(faults.state.injected).toBe(1);
    expect((await liveClaim(dst, m, i, src)).status).toBe(200);
    expect([await used(src), await used(dst)]).toEqual(HELD);
  });

  test('the re-target: 201 once, the first node freed once, the second held once', async () => {
    const { src, dst, i, m } = await live();
    const next = await node();
    const faults = lose();
    expect((await liveClaim(next, m, i, src)).status).toBe(201);
    expect(faults.state.injected).toBe(1);
    expect([await used(src), await used(dst), await used(next)]).toEqual(['128/1/1', '0/0/0', '128/1/1']);
  });

  test.each([
    [['queued'], HELD],
    [['running', 'post-migrating'], HELD],
    [
      ['running', 'completed'],
      ['0/0/0', '128/1/1'],
    ],
    [
      ['running', 'failed'],
      ['128/1/1', '0/0/0'],
    ],
    [['cancelled'], ['128/1/1', '0/0/0']],
  ])('status %j with the last answer lost: applied once, a client repeat is told apart', async (path, after) => {
    const { src, dst, m } = await live();
    for (const [n, s] of path.slice(0, -1).entries()) await status(m, s, n + 1);
    const last = path.at(-1)!;
    const faults = lose();
    const res = await status(m, last, path.length);
    expect(faults.state.injected).toBe(1);
    expect(res.body).toMatchObject({ status: last, applied: true, sequence: path.length });
    expect((await status(m, last, path.length)).body.applied).toBe(false);
    expect([await used(src), await used(dst)]).toEqual(after);
  });
});

describe('a hold whose final status never comes is released by the audit (rule L6)', () => {
  const STALE = '0.00001'; // minutes: every hold of the test is older
  const staleAfterAWhile = async () => {
    process.env.STALE_HOLD_MINUTES = STALE;
    await new Promise((r) => setTimeout(r, 5));
  };
  afterEach(() => delete process.env.STALE_HOLD_MINUTES);
  const audit = (nodeId: string, body: object) => api('POST', `/nodes/${nodeId}/audit`, body);

  test('kept without a migrations list, kept while listed, kept while fresh; released once it is none of those', async () => {
    const { src, dst, i, m } = await live();
    expect((await audit(dst, { migrations: [] })).body.releasedHolds).toEqual([]); // fresh: 15 minutes by default
    await staleAfterAWhile();
    expect((await audit(dst, {})).body.releasedHolds).toEqual([]); // the scheduled audit knows no list
    expect((await audit(dst, { migrations: [m] })).body.releasedHolds).toEqual([]);
    expect(await used(dst)).toBe('128/1/1');
    const report = await audit(dst, { migrations: ['another'] });
    expect(report.status).toBe(200);
    expect(report.body.releasedHolds).toEqual([
      { migrationId: m, instanceUuid: i, role: 'new', memoryMb: 128, diskGb: 1, vcpus: 1 },
    ]);
    expect(report.body.drift).toEqual({ memoryMbUsed: -128, localGbUsed: -1, vcpusUsed: -1 });
    expect([await used(src), await used(dst)]).toEqual(['128/1/1', '0/0/0']);
    expect((await audit(dst, { migrations: [] })).body).toMatchObject({
      releasedHolds: [],
      drift: { memoryMbUsed: 0, localGbUsed: 0, vcpusUsed: 0 },
    });
    // The status that finally comes: a failure ends it where it is; a completion would need the hold.
    expect((await status(m, 'completed')).status).toBe(409);
    expect((await status(m, 'failed')).body.applied).toBe(true);
    expect([await used(src), await used(dst)]).toEqual(['128/1/1', '0/0/0']);
    expect((await liveClaim(dst, fresh('mig'), i, src)).status).toBe(201);
  });

  test.each([
    ['resize', { newFlavor: F2 }, 'pre-migrating', 'dst'],
    ['migration', {}, 'migrating', 'dst'],
    ['evacuation', {}, 'post-migrating', 'dst'],
    ['resize', { newFlavor: F2 }, 'finished', 'src'],
  ] as const)('a %s hold (%j, %s) on the %s is released the same way', async (moveType, extra, at, side) => {
    const [src, dst] = [await node(), await node()];
    const i = await instance(src);
    const m = fresh('mig');
    expect((await liveClaim(dst, m, i, src, { moveType, ...extra })).status).toBe(201);
    if (at !== 'pre-migrating') expect((await status(m, at)).body.applied).toBe(true);
    await staleAfterAWhile();
    const where = side === 'dst' ? dst : src;
    const other = side === 'dst' ? src : dst;
    const before = await used(other);
    const report = await audit(where, { migrations: [] });
    expect(report.body.releasedHolds).toEqual([
      expect.objectContaining({ migrationId: m, role: side === 'dst' ? 'new' : 'old' }),
    ]);
    expect(await used(where)).toBe('0/0/0');
    expect(await used(other)).toBe(before);
  });

  test.each([1, 2, 3])(
    'round %i: an audit releasing a stale hold races completed; one of them wins, nothing is counted twice',
    async () => {
      const { src, dst, i, m } = await live();
      await staleAfterAWhile();
      const [report, completed] = await Promise.all([audit(dst, { migrations: [] }), status(m, 'completed')]);
      expect(report.status).toBe(200);
      if (completed.status === 200) {
        expect(report.body.releasedHolds).toEqual([]);
        expect([await used(src), await used(dst)]).toEqual(['0/0/0', '128/1/1']);
      } else {
        expect([completed.status, completed.body.error]).toEqual([409, 'InvalidTransition']);
        expect(report.body.releasedHolds).toHaveLength(1);
        expect([await used(src), await used(dst)]).toEqual(['128/1/1', '0/0/0']);
        expect((await api('GET', `/nodes/${src}/instances/${i}`)).body.migrationId).toBe(m);
      }
    },
  );

  test("a released hold's devices are free again", async () => {
    const nics = [0, 1].map((n) => ({ address: `0000:83:00.${n}`, vendorId: '15b3', productId: '101e' }));
    const [src, dst] = [await node(), await node({ ...N0, pciDevices: nics })];
    const i = await instance(src);
    const m = fresh('mig');
    await liveClaim(dst, m, i, src, { pciRequests: [{ count: 1, spec: [{ vendorId: '15b3' }] }] });
    expect((await api('GET', `/nodes/${dst}`)).body.pciDevicePools[0].free).toBe(1);
    await staleAfterAWhile();
    expect((await audit(dst, { migrations: [] })).body.releasedHolds).toHaveLength(1);
    expect((await api('GET', `/nodes/${dst}`)).body.pciDevicePools[0].free).toBe(2);
    await expectPciExact(store, dst);
  });
});

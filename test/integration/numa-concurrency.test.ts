// NUMA under concurrency and crashes on DynamoDB Local (docs/store.md NS1-NS6): the race for the last pCPUs,
// releases racing claims on one cell, a same-host resize through confirm and revert while claims race it,
// and a Lambda dying at each DynamoDB command of a NUMA claim, release and move status change. Every scenario
// ends with the ledger exact, cells included (usage and pins = the sum of the records and holds, no pCPU twice).
import '../support/quiet-logs';
import { runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import { api, type Reply } from '../support/api';
import { injectChaos, seeded } from '../support/chaos';
import { injectFaults } from '../support/faults';
import { requestsSent } from '../support/requests';
import { uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  await freshTable('numa-concurrency');
  store = runtime().store; // the handlers' own client, so the crashes hit them
});

let seq = 0;
const fresh = (prefix: string) => `${prefix}-${++seq}`;
const NUMA_TEXT =
  'Insufficient compute resources: Requested instance NUMA topology cannot fit the given host NUMA topology.';
const range = (from: number, n: number) => Array.from({ length: n }, (_, k) => from + k);

/** A host of `cells` cells, each of one shared CPU and `pcpus` dedicated ones without SMT siblings. */
function host(cells: number, pcpus: number) {
  const width = pcpus + 1;
  return {
    vcpus: cells * width,
    memoryMb: 8192 * cells,
    localGb: 1000,
    reservedHostMemoryMb: 0,
    numaTopology: {
      cells: range(0, cells).map((id) => ({
        id,
        cpuset: [id * width],
        pcpuset: range(id * width + 1, pcpus),
        memoryMb: 8192,
        siblings: [],
        mempages: [{ sizeKb: 4, total: 2097152 }],
      })),
    },
  };
}
const ded = (vcpus: number, memoryMb = 1024) => ({
  vcpus,
  memoryMb,
  rootGb: 1,
  extraSpecs: { 'hw:cpu_policy': 'dedicated' },
});

async function node(body: object, prefix = 'nc') {
  const id = fresh(prefix);
  expect((await api('PUT', `/nodes/${id}`, body)).status).toBe(201);
  return id;
}
const claim = (nodeId: string, flavor: object, instanceUuid = uuid()) =>
  api('POST', `/nodes/${nodeId}/instances`, { instanceUuid, flavor });

interface CellView {
  id: number;
  cpuUsage: number;
  memoryUsageMb: number;
  pinnedCpus: number[];
  mempages: { sizeKb: number; used: number }[];
}
/** The node's cells once the ledger check (cells equal the records and holds, no pCPU twice) passed. */
async function cells(nodeId: string): Promise<CellView[]> {
  await expectLedgerExact(store, nodeId);
  return (await api('GET', `/nodes/${nodeId}`)).body.numaTopology.cells as CellView[];
}
const pinnedCount = (cs: CellView[]) => cs.reduce((n, c) => n + c.pinnedCpus.length, 0);
const pinsOf = (r: Reply) =>
  (r.body.numaTopology.cells as { cpuPinning: Record<string, number> }[]).flatMap((c) => Object.values(c.cpuPinning));
const landed = (rs: Reply[]) => rs.filter((r) => r.status === 201);

describe('the race for pCPUs', () => {
  test('64 concurrent dedicated 2-vCPU claims on 16 free pCPUs: exactly 8 land, no pCPU pinned twice', async () => {
    const n = await node(host(2, 8));
    const answers = await Promise.all(Array.from({ length: 64 }, () => claim(n, ded(2))));
    expect(answers.map((a) => a.status).sort()).toEqual([...Array(8).fill(201), ...Array(56).fill(409)]);
    for (const a of answers.filter((x) => x.status === 409)) {
      expect(a.body).toMatchObject({ error: 'InsufficientResources', message: NUMA_TEXT });
    }
    const pins = landed(answers).flatMap(pinsOf);
    expect(new Set(pins).size).toBe(16);
    const c = await cells(n);
    expect(c.map((x) => [x.pinnedCpus.length, x.memoryUsageMb])).toEqual([
      [8, 4096],
      [8, 4096],
    ]);
    expect(c.flatMap((x) => x.pinnedCpus).sort((a, b) => a - b)).toEqual([...pins].sort((a, b) => a - b));
  });

  test('16 concurrent dedicated claims of one container: one write each, pinned as the same claims one by one are (rule NU10)', async () => {
    const [together, inTurn] = [await node(host(2, 32)), await node(host(2, 32))];
    for (let k = 0; k < 16; k++) expect((await claim(inTurn, ded(2))).status).toBe(201);
    let answers: Reply[] = [];
    const sent = await requestsSent(store, async () => {
      answers = await Promise.all(Array.from({ length: 16 }, () => claim(together, ded(2))));
    });
    expect(answers.map((a) => a.status)).toEqual(Array(16).fill(201));
    // Each fit chose around the takes of the claims in flight, so no write lost a race for a pCPU.
    expect(sent.filter((c) => c === 'TransactWriteItems')).toHaveLength(16);
    const pinned = async (n: string) => (await cells(n)).map((c) => c.pinnedCpus);
    expect(await pinned(together)).toEqual(await pinned(inTurn));
  });

  test('releases racing claims on one cell: never more pins than pCPUs, and nothing leaks', async () => {
    const n = await node(host(1, 8));
    const held = range(0, 4).map(() => uuid());
    for (const i of held) expect((await claim(n, ded(2), i)).status).toBe(201);
    const [releases, answers] = await Promise.all([
      Promise.all(held.map((i) => api('DELETE', `/nodes/${n}/instances/${i}`))),
      Promise.all(Array.from({ length: 16 }, () => claim(n, ded(2)))),
    ]);
    expect(releases.map((r) => r.status)).toEqual([204, 204, 204, 204]);
    const won = landed(answers).length;
    expect(won).toBeLessThanOrEqual(4);
    expect(won + answers.filter((a) => a.status === 409).length).toBe(16);
    expect(pinnedCount(await cells(n))).toBe(2 * won);
    // What the releases freed and the race did not take is claimable: the cell fills exactly, then refuses.
    for (let k = won; k < 4; k++) expect((await claim(n, ded(2))).status).toBe(201);
    expect((await claim(n, ded(2))).status).toBe(409);
    expect((await cells(n))[0]?.pinnedCpus).toEqual(range(1, 8));
  });
});

describe('a same-host resize of a pinned guest while claims race it', () => {
  test.each(['confirmed', 'reverted'] as const)('held old and new without sharing a pCPU, then %s', async (final) => {
    const n = await node(host(2, 6));
    const i = uuid();
    const first = await claim(n, ded(2), i);
    expect(first.status).toBe(201);
    const oldCell = first.body.numaTopology.cells[0].id as number;
    const m = fresh('resize');
    // 10 pCPUs are free (4 + 6): the resize's 4 and the two claims' 2 each fit in every order.
    const [move, ...others] = await Promise.all([
      api('POST', `/nodes/${n}/move-claims`, {
        migrationId: m,
        instanceUuid: i,
        moveType: 'resize',
        sourceNodeId: n,
        newFlavor: ded(4, 2048),
      }),
      claim(n, ded(2)),
      claim(n, ded(2)),
    ]);
    expect([move.status, ...others.map((o) => o.status)]).toEqual([201, 201, 201]);
    const newCell = move.body.claim.numaTopology.cells[0].id as number;
    expect(pinnedCount(await cells(n))).toBe(2 + 4 + 4);
    expect((await api('POST', `/migrations/${m}/status`, { status: 'finished' })).status).toBe(200);
    expect(pinnedCount(await cells(n))).toBe(10);
    // The end of the resize frees one side while two claims race for what is free.
    const [done, ...racing] = await Promise.all([
      api('POST', `/migrations/${m}/status`, { status: final }),
      claim(n, ded(2)),
      claim(n, ded(2)),
    ]);
    expect(done.status).toBe(200);
    const won = landed(racing).length;
    expect(won).toBeGreaterThanOrEqual(1); // 2 pCPUs were free before either side went
    const kept = final === 'confirmed' ? 4 : 2;
    expect(pinnedCount(await cells(n))).toBe(kept + 4 + 2 * won);
    const record = (await api('GET', `/nodes/${n}/instances/${i}`)).body;
    expect(record.numaTopology.cells.map((c: { id: number }) => c.id)).toEqual([
      final === 'confirmed' ? newCell : oldCell,
    ]);
    // Whatever the side that went gave back can be claimed, and no more.
    while ((await claim(n, ded(2))).status === 201);
    expect(pinnedCount(await cells(n))).toBe(12);
  });
});

describe('registering a node with cells', () => {
  // The node item is written first, its cells in a transaction of their own (rule NS2).
  test.each(['conflict', 'lost-response'] as const)(
    'a first PUT whose cells write meets %s still answers 201 Created, once',
    async (fault) => {
      const id = fresh('put');
      const faults = injectFaults(store, { command: 'TransactWriteItemsCommand', fault, times: 1 });
      let res: Reply;
      try {
        res = await api('PUT', `/nodes/${id}`, host(2, 4));
      } finally {
        faults.remove();
      }
      expect(faults.state.injected).toBe(1);
      expect(res.status).toBe(201);
      expect((await cells(id)).map((c) => c.id)).toEqual([0, 1]);
      expect((await api('PUT', `/nodes/${id}`, host(2, 4))).status).toBe(200);
    },
  );
});

/** Runs `send` dying at command `crashAt` (before sending it, or after it committed), then retries it as a client does. */
async function crashOnce(crashAt: number, afterCommit: boolean, send: () => Promise<Reply>) {
  const chaos = injectChaos(store, { rate: 0, kinds: [], crashRate: 0, random: seeded(1) });
  try {
    const first = await chaos.request(send, { crashAt, afterCommit });
    let last = first;
    for (let k = 0; last.status >= 500 && k < 5; k++) last = await send();
    return { first, last, crashes: chaos.counts['crash-after-commit'] + chaos.counts['crash-before-send'] };
  } finally {
    chaos.remove();
  }
}

/** What the model predicts and the service must end in: each node's scalars, cells and record count. */
async function state(nodeIds: string[]) {
  return Promise.all(
    nodeIds.map(async (id) => {
      const ledger = await expectLedgerExact(store, id);
      const v = (await api('GET', `/nodes/${id}`)).body;
      const cellsNow = (v.numaTopology.cells as CellView[]).map((c) => ({
        cpuUsage: c.cpuUsage,
        memoryUsageMb: c.memoryUsageMb,
        pinnedCpus: c.pinnedCpus,
        pages: c.mempages.map((p) => p.used),
      }));
      const figures = [v.memoryMbUsed, v.localGbUsed, v.vcpusUsed, v.runningVms];
      return { figures, cells: cellsNow, records: ledger.instances.length, holds: ledger.holds.length };
    }),
  );
}

interface Scenario {
  /** Sets up fresh nodes, answers them and the request to crash. */
  setup: () => Promise<{ nodes: string[]; send: () => Promise<Reply> }>;
  ok: number[];
}
const SCENARIOS: Record<string, Scenario> = {
  'a NUMA claim': {
    setup: async () => {
      const n = await node(host(2, 4), 'crash');
      expect((await claim(n, ded(2))).status).toBe(201);
      const i = uuid();
      return { nodes: [n], send: () => claim(n, ded(2), i) };
    },
    ok: [200, 201],
  },
  'a NUMA release': {
    setup: async () => {
      const n = await node(host(2, 4), 'crash');
      const i = uuid();
      expect((await claim(n, ded(2), i)).status).toBe(201);
      expect((await claim(n, ded(2))).status).toBe(201);
      return { nodes: [n], send: () => api('DELETE', `/nodes/${n}/instances/${i}`) };
    },
    ok: [204, 404],
  },
  'a NUMA move status change (finished)': {
    setup: async () => {
      const [a, b] = [await node(host(2, 4), 'crash'), await node(host(2, 4), 'crash')];
      const i = uuid();
      expect((await claim(a, ded(2), i)).status).toBe(201);
      const m = fresh('cold');
      const move = await api('POST', `/nodes/${b}/move-claims`, {
        migrationId: m,
        instanceUuid: i,
        moveType: 'migration',
        sourceNodeId: a,
      });
      expect(move.status).toBe(201);
      return { nodes: [a, b], send: () => api('POST', `/migrations/${m}/status`, { status: 'finished', sequence: 1 }) };
    },
    ok: [200],
  },
};

describe('a Lambda that dies at each DynamoDB command of a multi-step NUMA operation, and the client that retries', () => {
  test.each(Object.keys(SCENARIOS))('%s ends in the state of the run without a crash', async (label) => {
    const scenario = SCENARIOS[label] as Scenario;
    // The model: the same operation on its own nodes, without a crash.
    const model = await scenario.setup();
    const commands = await requestsSent(store, async () => expect(scenario.ok).toContain((await model.send()).status));
    expect(commands.length).toBeGreaterThan(0);
    const want = await state(model.nodes);
    for (let crashAt = 1; crashAt <= commands.length; crashAt++) {
      for (const afterCommit of [false, true]) {
        const run = await scenario.setup();
        const { first, last, crashes } = await crashOnce(crashAt, afterCommit, run.send);
        const where = `${label} dying ${afterCommit ? 'after' : 'before'} command ${crashAt} (${commands[crashAt - 1]})`;
        expect([where, crashes, first.status]).toEqual([where, 1, 500]);
        expect([where, scenario.ok.includes(last.status)]).toEqual([where, true]);
        expect([where, await state(run.nodes)]).toEqual([where, want]);
      }
    }
  });
});

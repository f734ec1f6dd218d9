// Live migration of NUMA guests over HTTP on DynamoDB Local (docs/moves.md rules L1, L2, L4, L5; docs/store.md
// NS5): the destination's cells are fitted afresh and held from `accepted`; `completed` moves the pins, a failure
// frees the destination's at once, a re-target frees the former destination's cells in its one write, and a
// first cell whose page size would change is refused with Nova's text. Every step ends with both ledgers exact,
// cells included.
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('live-numa');
});

let seq = 0;
const fresh = (prefix: string) => `${prefix}-${++seq}`;
const NUMA_TEXT =
  'Insufficient compute resources: Requested instance NUMA topology cannot fit the given host NUMA topology.';
const PAGE_TEXT = 'Insufficient compute resources: Requested page size is different from current page size..';

/** One cell of 4 dedicated pCPUs in SMT pairs {1,5}, {2,6} and 8 GiB, with the page sizes given. */
const oneCell = (mempages: { sizeKb: number; total: number }[]) => ({
  vcpus: 8,
  memoryMb: 8192,
  localGb: 100,
  numaTopology: {
    cells: [
      {
        id: 0,
        cpuset: [0, 4],
        pcpuset: [1, 2, 5, 6],
        memoryMb: 8192,
        siblings: [
          [0, 4],
          [1, 5],
          [2, 6],
        ],
        mempages,
      },
    ],
  },
});
const SMALL_AND_2M = [
  { sizeKb: 4, total: 1048576 },
  { sizeKb: 2048, total: 1024 },
];
const SMALL_AND_1G = [
  { sizeKb: 4, total: 1048576 },
  { sizeKb: 1048576, total: 4 },
];
const ded2 = (specs: Record<string, string> = {}) => ({
  vcpus: 2,
  memoryMb: 1024,
  rootGb: 10,
  extraSpecs: { 'hw:cpu_policy': 'dedicated', ...specs },
});

async function node(body: object) {
  const id = fresh('lm-numa');
  expect((await api('PUT', `/nodes/${id}`, body)).status).toBe(201);
  return id;
}
async function claimOn(nodeId: string, flavor: object) {
  const instanceUuid = uuid();
  const res = await api('POST', `/nodes/${nodeId}/instances`, { instanceUuid, flavor });
  expect(res.status).toBe(201);
  return { instanceUuid, topology: res.body.numaTopology };
}
const live = (dest: string, src: string, instanceUuid: string, migrationId = fresh('lm')) =>
  api('POST', `/nodes/${dest}/move-claims`, {
    migrationId,
    moveType: 'live-migration',
    instanceUuid,
    sourceNodeId: src,
  });
const status = (m: string, s: string, sequence: number) =>
  api('POST', `/migrations/${m}/status`, { status: s, sequence });
async function pinned(nodeId: string): Promise<number[]> {
  await expectLedgerExact(store, nodeId);
  const view = (await api('GET', `/nodes/${nodeId}`)).body;
  return view.numaTopology.cells.flatMap((c: { pinnedCpus: number[] }) => c.pinnedCpus);
}

describe('a NUMA guest live-migrates (rules L2, L5, NS5)', () => {
  test('the destination pins from accepted; completed moves the pins, the source gives its own back', async () => {
    const [src, dst] = [await node(oneCell(SMALL_AND_2M)), await node(oneCell(SMALL_AND_2M))];
    const { instanceUuid } = await claimOn(src, ded2());
    expect(await pinned(src)).toEqual([1, 5]);
    const m = fresh('lm');
    const res = await live(dst, src, instanceUuid, m);
    expect(res.status).toBe(201);
    expect(res.body.migration.status).toBe('accepted');
    expect(await pinned(dst)).toEqual([1, 5]);
    expect((await status(m, 'completed', 1)).status).toBe(200);
    expect([await pinned(src), await pinned(dst)]).toEqual([[], [1, 5]]);
    const record = (await api('GET', `/nodes/${dst}/instances/${instanceUuid}`)).body;
    expect(record.numaTopology.cells[0].cpuPinning).toEqual({ 0: 1, 1: 5 });
  });

  test('failed frees the destination at once and the guest keeps its source pins', async () => {
    const [src, dst] = [await node(oneCell(SMALL_AND_2M)), await node(oneCell(SMALL_AND_2M))];
    const { instanceUuid } = await claimOn(src, ded2());
    const m = fresh('lm');
    expect((await live(dst, src, instanceUuid, m)).status).toBe(201);
    expect((await status(m, 'failed', 1)).status).toBe(200);
    expect([await pinned(src), await pinned(dst)]).toEqual([[1, 5], []]);
  });

  test('a re-target frees the first destination’s cells in the write that pins the new one (rule L4)', async () => {
    const [src, first, second] = [
      await node(oneCell(SMALL_AND_2M)),
      await node(oneCell(SMALL_AND_2M)),
      await node(oneCell(SMALL_AND_2M)),
    ];
    const { instanceUuid } = await claimOn(src, ded2());
    const m = fresh('lm');
    expect((await live(first, src, instanceUuid, m)).status).toBe(201);
    expect((await live(second, src, instanceUuid, m)).status).toBe(201);
    expect([await pinned(first), await pinned(second)]).toEqual([[], [1, 5]]);
    expect((await status(m, 'completed', 1)).status).toBe(200);
    expect([await pinned(src), await pinned(first), await pinned(second)]).toEqual([[], [], [1, 5]]);
  });

  test('L-ex4 #3: a full destination refuses with the NUMA text and nothing is written', async () => {
    const [src, dst] = [await node(oneCell(SMALL_AND_2M)), await node(oneCell(SMALL_AND_2M))];
    await claimOn(dst, ded2());
    await claimOn(dst, ded2());
    const { instanceUuid } = await claimOn(src, ded2());
    const before = (await api('GET', `/nodes/${dst}`)).body;
    const m = fresh('lm');
    const res = await live(dst, src, instanceUuid, m);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: 'InsufficientResources', message: NUMA_TEXT });
    expect((await api('GET', `/nodes/${dst}`)).body).toEqual(before);
    expect((await api('GET', `/migrations/${m}`)).status).toBe(404);
    expect(await pinned(dst)).toEqual([1, 2, 5, 6]);
  });

  test('L-ex4 #7: a guest on 1 GiB pages cannot go where `large` means 2 MiB: refused with Nova’s text', async () => {
    const [src, dst] = [await node(oneCell(SMALL_AND_1G)), await node(oneCell(SMALL_AND_2M))];
    const { instanceUuid, topology } = await claimOn(src, ded2({ 'hw:mem_page_size': 'large' }));
    expect(topology.cells[0].pagesizeKb).toBe(1048576);
    const before = (await api('GET', `/nodes/${dst}`)).body;
    const res = await live(dst, src, instanceUuid);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: 'InsufficientResources', message: PAGE_TEXT });
    expect((await api('GET', `/nodes/${dst}`)).body).toEqual(before);
    expect(await pinned(src)).toEqual([1, 5]);
  });

  test('L-ex4 #8: the same page size on both sides is taken, with the destination’s pages counted', async () => {
    const [src, dst] = [await node(oneCell(SMALL_AND_2M)), await node(oneCell(SMALL_AND_2M))];
    const { instanceUuid } = await claimOn(src, ded2({ 'hw:mem_page_size': '2048' }));
    expect((await live(dst, src, instanceUuid)).status).toBe(201);
    const cell = (await api('GET', `/nodes/${dst}`)).body.numaTopology.cells[0];
    expect(cell.mempages.find((p: { sizeKb: number }) => p.sizeKb === 2048).used).toBe(512);
    expect(cell.memoryUsageMb).toBe(1024);
    expect(await pinned(dst)).toEqual([1, 5]);
  });
});

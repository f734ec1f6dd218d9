// The NUMA cells' pure builders (rules NS1-NS4, NS6): keys, what a claim's cell update conditions on, what a
// release gives back, which cells an inventory replacement keeps, and the audit's recount.
import { marshall } from '@aws-sdk/util-dynamodb';
import { recountCells } from '../../../lib/store/numa-audit';
import {
  cellKey,
  cellOf,
  cellReleases,
  cellWrite,
  topologyWrites,
  type CellChange,
  type CellState,
} from '../../../lib/store/numa-cells';
import { offlineStore } from './fixtures';

const store = offlineStore(async () => undefined);
const take: CellChange = {
  cellId: 0,
  sign: 1,
  cpuUsage: 0,
  memoryUsageMb: 2048,
  pin: [1, 5],
  pages: { sizeKb: 4, count: 524288 },
};

/** Resolves an expression's placeholders, so tests read it as DynamoDB would. */
function plainExpression(update: Record<string, unknown>, key: 'UpdateExpression' | 'ConditionExpression'): string {
  const names = (update.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = (update.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
  return String(update[key] ?? '')
    .replace(/#n\d+/g, (n) => names[n] ?? n)
    .replace(/:\w+/g, (v) => {
      const x = values[v];
      return x instanceof Set ? `{${[...x].join(',')}}` : JSON.stringify(x);
    });
}

const cell = (over: Partial<CellState> = {}): CellState => ({
  id: 0,
  cpuset: [0, 4],
  pcpuset: [1, 2, 3, 5, 6, 7],
  memoryMb: 8192,
  siblings: [],
  mempages: [{ sizeKb: 4, total: 2097152, reserved: 0 }],
  cpuUsage: 0,
  memoryUsageMb: 0,
  pinnedCpus: [],
  pagesUsed: { 4: 0 },
  reported: true,
  inventoryVersion: 3,
  holders: 0,
  ...over,
});

describe('cell items', () => {
  it('sort by id right after the node item', () => {
    expect(cellKey('n1', 7)).toEqual({ pk: 'NODE#n1', sk: 'NUMA#0007' });
    expect('NODE' < cellKey('n1', 0).sk && cellKey('n1', 9999).sk < 'NUMA#~').toBe(true);
  });

  it('decode from a cancellation image, pins as a number set', () => {
    const raw = marshall({
      sk: 'NUMA#0000',
      cellId: 0,
      pinned: new Set([5, 1]),
      memoryUsageMb: 10,
      pagesUsed4: 3,
      mempages: [],
    });
    expect(cellOf(raw)).toMatchObject({ id: 0, pinnedCpus: [1, 5], memoryUsageMb: 10, pagesUsed: { 4: 3 } });
  });
});

describe('a claim on a cell', () => {
  const guard = {
    cellId: 0,
    free: [1, 5],
    memoryUsageAtMost: 6144,
    cpuUsageAtMost: null,
    pagesUsedAtMost: { sizeKb: 4, value: 1572864 },
    inventoryVersion: 3,
  };
  const update = cellWrite(store, 'n1', take, guard).item.Update as Record<string, unknown>;

  it('adds the usage and the pins, and counts one more holder', () => {
    expect(plainExpression(update, 'UpdateExpression')).toBe(
      'SET cpuUsage = cpuUsage + 0, memoryUsageMb = memoryUsageMb + 2048, pagesUsed4 = if_not_exists(pagesUsed4, 0) + 524288 ADD holders 1, pinned {1,5}',
    );
  });

  it('is conditioned on every pin free, the thresholds the fit used, and the inventory it read', () => {
    expect(plainExpression(update, 'ConditionExpression')).toBe(
      'attribute_exists(pk) AND inventoryVersion = 3 AND NOT contains(pinned, 1) AND NOT contains(pinned, 5) AND memoryUsageMb <= 6144 AND pagesUsed4 <= 1572864',
    );
    expect(update.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
  });

  it('is given back exactly by the release, which conditions on nothing but the cell', () => {
    const [release] = cellReleases(store, 'n1', [take]);
    const u = release?.item.Update as Record<string, unknown>;
    expect(plainExpression(u, 'UpdateExpression')).toBe(
      'SET cpuUsage = cpuUsage + 0, memoryUsageMb = memoryUsageMb + -2048, pagesUsed4 = if_not_exists(pagesUsed4, 0) + -524288 ADD holders -1 DELETE pinned {1,5}',
    );
    expect(plainExpression(u, 'ConditionExpression')).toBe('attribute_exists(pk)');
  });
});

describe('replacing the topology', () => {
  it('keeps a dropped cell that holds usage (unreported), deletes one that holds nothing', () => {
    const writes = topologyWrites(store, 'n1', [cell({ id: 0, holders: 1 }), cell({ id: 1 })], []);
    const [kept, gone] = writes.map((w) => w.item);
    expect(plainExpression(kept?.Update as Record<string, unknown>, 'UpdateExpression')).toContain('reported = false');
    expect(plainExpression(gone?.Delete as Record<string, unknown>, 'ConditionExpression')).toBe(
      'inventoryVersion = 3 AND holders = 0',
    );
  });

  it('starts a new cell at the clock in microseconds and adds 1 to a cell already there (rule NS8)', () => {
    const inventory = { id: 0, cpuset: [0], pcpuset: [1], memoryMb: 1024, siblings: [], mempages: [] };
    const before = Date.now() * 1000;
    const [made] = topologyWrites(store, 'n1', [], [inventory]).map((w) => w.item.Update as Record<string, unknown>);
    const started = /inventoryVersion = (\d+)$/.exec(plainExpression(made ?? {}, 'UpdateExpression'))?.[1];
    expect(Number(started)).toBeGreaterThanOrEqual(before);
    expect(Number(started)).toBeLessThanOrEqual(Date.now() * 1000);
    expect(plainExpression(made ?? {}, 'ConditionExpression')).toBe('attribute_not_exists(pk)');
    const [again] = topologyWrites(store, 'n1', [cell()], [inventory]).map(
      (w) => w.item.Update as Record<string, unknown>,
    );
    expect(plainExpression(again ?? {}, 'UpdateExpression')).toMatch(/ADD inventoryVersion 1$/);
    expect(plainExpression(again ?? {}, 'ConditionExpression')).toBe('inventoryVersion = 3');
  });
});

describe('the audit of cells', () => {
  const items = [
    {
      sk: 'NUMA#0000',
      cellId: 0,
      pcpuset: [1, 2, 3, 5, 6, 7],
      pinned: new Set([1, 5, 7]),
      memoryUsageMb: 1,
      holders: 1,
    },
  ];

  it('rebuilds from the holders and reports what differs', () => {
    const r = recountCells(items, [{ who: 'i-1', taken: [take] }]);
    expect(r.drift).toEqual([
      {
        cellId: 0,
        before: { cpuUsage: 0, memoryUsageMb: 1, pinnedCpus: [1, 5, 7], pagesUsed: {} },
        after: { cpuUsage: 0, memoryUsageMb: 2048, pinnedCpus: [1, 5], pagesUsed: { 4: 524288 } },
      },
    ]);
    expect(r.problems).toEqual([]);
  });

  it('names both holders of a shared pin, and a pin the cell does not report', () => {
    const r = recountCells(items, [
      { who: 'i-1', taken: [take] },
      { who: 'i-2', taken: [{ ...take, pin: [5, 40] }] },
    ]);
    expect(r.problems).toEqual([
      'cell 0: CPU 5 pinned by i-1 and i-2',
      'cell 0: i-2 pins CPUs 40, which the cell does not report',
    ]);
  });
});

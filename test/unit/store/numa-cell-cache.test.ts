// The per-store copy of a node's NUMA cells (rule NS7): freshness, what committed cell writes do to it, what
// a cancellation's images teach it, and when it goes (another write of cells, a new inventory, a lost answer).
import { marshall } from '@aws-sdk/util-dynamodb';
import type { NamedItem } from '../../../lib/store/commit';
import type { NumaCellCache } from '../../../lib/store/numa-cell-cache';
import { cellKey, cellReleases, cellWrite, type CellChange, type CellState } from '../../../lib/store/numa-cells';
import { offlineStore } from './fixtures';

const node = { pk: 'NODE#n1', sk: 'NODE', nodeId: 'n1', cpuAllocationRatio: 16, ramAllocationRatio: 1.5 };
const cell = (id: number, over: Partial<CellState> = {}): CellState => ({
  id,
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
const take: CellChange = { cellId: 0, sign: 1, cpuUsage: 0, memoryUsageMb: 2048, pin: [1, 5], pages: null };
/** A cell item as a cancellation returns it (ALL_OLD, raw attribute values), usage in its own attributes. */
function image(c: CellState): Record<string, unknown> {
  const { id, pinnedCpus, pagesUsed, ...rest } = c;
  const pages = Object.fromEntries(Object.entries(pagesUsed).map(([k, n]) => [`pagesUsed${k}`, n]));
  const pinned = pinnedCpus.length ? { pinned: new Set(pinnedCpus) } : {};
  return marshall({ ...cellKey('n1', id), cellId: id, ...rest, ...pages, ...pinned }) as Record<string, unknown>;
}

let store: ReturnType<typeof offlineStore>;
let cache: NumaCellCache;
beforeEach(() => {
  store = offlineStore(async () => undefined);
  cache = store.numaCells;
  cache.remember('n1', node, [cell(0), cell(1)]);
});
afterEach(() => jest.useRealTimers());

describe('NumaCellCache', () => {
  it('offers a copy for 2 s after its read, then reads are needed again', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    cache.remember('n1', node, [cell(0)]);
    jest.setSystemTime(1_001_999);
    expect(cache.fresh('n1')).toEqual({ node, cells: [cell(0)] });
    jest.setSystemTime(1_002_000);
    expect(cache.fresh('n1')).toBeUndefined();
  });

  it('keeps no copy of a node without a reported cell, nor of a node not found', () => {
    cache.remember('n1', node, [cell(0, { reported: false })]);
    expect(cache.fresh('n1')).toBeUndefined();
    cache.remember('n2', undefined, [cell(0)]);
    expect(cache.fresh('n2')).toBeUndefined();
  });

  it('a committed claim and then its release move the copy by exactly what they took, keeping its age', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    cache.remember('n1', node, [cell(0), cell(1)]);
    jest.setSystemTime(1_001_000);
    cache.committed([cellWrite(store, 'n1', take)]);
    expect(cache.fresh('n1')?.cells[0]).toEqual(cell(0, { memoryUsageMb: 2048, pinnedCpus: [1, 5], holders: 1 }));
    expect(cache.fresh('n1')?.cells[1]).toEqual(cell(1));
    cache.committed(cellReleases(store, 'n1', [take]));
    expect(cache.fresh('n1')?.cells).toEqual([cell(0), cell(1)]);
    jest.setSystemTime(1_002_000);
    expect(cache.fresh('n1')).toBeUndefined();
  });

  it('any other committed write of a cell (an inventory, a repair) drops the copy; writes of other items do not', () => {
    const other: NamedItem = { name: 'node', item: { Update: { TableName: 't', Key: node, UpdateExpression: 'x' } } };
    cache.committed([other]);
    expect(cache.fresh('n1')).toBeDefined();
    const repair: NamedItem = {
      name: 'cell:1',
      item: { Update: { TableName: 't', Key: cellKey('n1', 1), UpdateExpression: 'SET cpuUsage = :z' } },
    };
    cache.committed([other, repair]);
    expect(cache.fresh('n1')).toBeUndefined();
  });

  it('a failed cell condition replaces the cell with the image returned; passed cells stay as they are', () => {
    const items = [cellWrite(store, 'n1', take), cellWrite(store, 'n1', { ...take, cellId: 1 })];
    const now = cell(0, { pinnedCpus: [5], holders: 1, cpuUsage: 0 });
    cache.failed(
      items,
      new Map([
        ['cell:0', { Code: 'ConditionalCheckFailed', Item: image(now) }],
        ['cell:1', { Code: 'None' }],
      ]),
    );
    expect(cache.fresh('n1')?.cells).toEqual([now, cell(1)]);
  });

  it('an image with a new inventory version, a cell gone, or a failure without reasons drops the copy', () => {
    const items = [cellWrite(store, 'n1', take)];
    const newer = cell(0, { inventoryVersion: 4 });
    cache.failed(items, new Map([['cell:0', { Code: 'ConditionalCheckFailed', Item: image(newer) }]]));
    expect(cache.fresh('n1')).toBeUndefined();
    cache.remember('n1', node, [cell(0)]);
    cache.failed(items, new Map([['cell:0', { Code: 'ConditionalCheckFailed' }]]));
    expect(cache.fresh('n1')).toBeUndefined();
    cache.remember('n1', node, [cell(0)]);
    // A lost answer or a throttled write: it may have committed, so the copy cannot follow it.
    cache.failed(items, undefined);
    expect(cache.fresh('n1')).toBeUndefined();
  });

  it('a failure of other items only keeps the copy', () => {
    const items = [cellWrite(store, 'n1', take)];
    cache.failed(items, new Map([['cell:0', { Code: 'None' }]]));
    expect(cache.fresh('n1')?.cells).toEqual([cell(0), cell(1)]);
  });
});

// Per-cell usage of a fitted topology (rule U1), its application with Nova's clamps, pin problems, and
// the refusal texts of a NUMA refusal character for character.
import {
  applyNumaUsage,
  numaReasons,
  numaRefusal,
  numaUsage,
  pinProblems,
  type FittedCell,
  type FittedTopology,
  type HostCell,
} from '../../../lib/domain';

/** Host HT2's cell 0 (example E5): shared {0,4}, dedicated {1,2,3,5,6,7}, 4K and 2M pages, nothing used. */
const ht2Cell = (id: number, offset = id * 8): HostCell => ({
  id,
  cpuset: [0, 4].map((c) => c + offset),
  pcpuset: [1, 2, 3, 5, 6, 7].map((c) => c + offset),
  memoryMb: 8192,
  siblings: [
    [0, 4],
    [1, 5],
    [2, 6],
    [3, 7],
  ].map((s) => s.map((c) => c + offset)),
  mempages: [
    { sizeKb: 4, total: 1572864, reserved: 0 },
    { sizeKb: 2048, total: 1024, reserved: 0 },
  ],
  cpuUsage: 0,
  memoryUsageMb: 0,
  pinnedCpus: [],
  pagesUsed: {},
});

const fitted = (over: Partial<FittedCell>): FittedCell => ({
  id: 0,
  memoryMb: 2048,
  pagesizeKb: null,
  cpuset: [],
  pcpuset: [],
  cpuPinning: {},
  cpusetReserved: [],
  ...over,
});

describe('rule U1: what a fitted topology takes from each cell', () => {
  const host = [ht2Cell(0), ht2Cell(1)];

  it('example E5: a pinned guest pins its CPUs, takes memory and 4K pages, and no cpu usage', () => {
    const t: FittedTopology = { cells: [fitted({ pcpuset: [0, 1], cpuPinning: { '0': 1, '1': 5 } })] };
    expect(numaUsage(host, t, 1)).toEqual([
      { cellId: 0, sign: 1, cpuUsage: 0, memoryUsageMb: 2048, pin: [1, 5], pages: { sizeKb: 4, count: 524288 } },
    ]);
    const after = applyNumaUsage({ cells: host }, numaUsage(host, t, 1));
    expect(after.cells[0]).toMatchObject({
      cpuUsage: 0,
      memoryUsageMb: 2048,
      pinnedCpus: [1, 5],
      pagesUsed: { 4: 524288 },
    });
    expect(after.cells[1]).toBe(host[1]);
  });

  it('example E6: the emulator CPU is pinned with the guest', () => {
    const t = { cells: [fitted({ pcpuset: [0, 1], cpuPinning: { '0': 2, '1': 6 }, cpusetReserved: [3] })] };
    expect(numaUsage(host, t, 1)[0]?.pin).toEqual([2, 3, 6]);
  });

  it('example E7: a mixed guest counts its shared vCPUs and pins its dedicated ones', () => {
    const t = {
      cells: [fitted({ id: 1, memoryMb: 4096, cpuset: [0, 1], pcpuset: [2, 3], cpuPinning: { '2': 10, '3': 14 } })],
    };
    const [change] = numaUsage(host, t, 1);
    expect(change).toMatchObject({ cellId: 1, cpuUsage: 2, memoryUsageMb: 4096, pin: [10, 14] });
  });

  it('example E10: under isolate the whole sibling sets are pinned', () => {
    const legacy: HostCell = { ...ht2Cell(0), cpuset: [0, 1, 2, 3, 4, 5, 6, 7], pcpuset: [0, 1, 2, 3, 4, 5, 6, 7] };
    const t: FittedTopology = {
      cells: [fitted({ pcpuset: [0, 1], cpuPinning: { '0': 0, '1': 2 } })],
      cpuThreadPolicy: 'isolate',
    };
    const after = applyNumaUsage({ cells: [{ ...legacy, pinnedCpus: [1] }] }, numaUsage([legacy], t, 1));
    expect(after.cells[0]?.pinnedCpus).toEqual([0, 1, 2, 4, 6]);
  });

  it('example E9: pages of the size the fit chose; release gives back exactly that (#11)', () => {
    const t = { cells: [fitted({ memoryMb: 1024, pagesizeKb: 2048 })] };
    const taken = applyNumaUsage({ cells: host }, numaUsage(host, t, 1));
    expect(taken.cells[0]?.pagesUsed).toEqual({ 2048: 512 });
    const back = applyNumaUsage(taken, numaUsage(host, t, -1));
    expect(back.cells[0]).toEqual({ ...host[0], pagesUsed: { 2048: 0 } });
  });

  it('a cell without page sizes changes no pages; a cell gone from the inventory still gives back', () => {
    const bare = { ...ht2Cell(0), mempages: [] };
    expect(numaUsage([bare], { cells: [fitted({})] }, 1)[0]?.pages).toBeNull();
    expect(numaUsage([], { cells: [fitted({ cpuPinning: { '0': 1 }, pcpuset: [0] })] }, -1)).toEqual([
      { cellId: 0, sign: -1, cpuUsage: 0, memoryUsageMb: -2048, pin: [1], pages: null },
    ]);
  });

  it("the clamps: usage and pages used never go below 0, and pages are counted past the total (example E2's #7)", () => {
    const t = { cells: [fitted({ memoryMb: 9216, cpuset: [0, 1] })] };
    const small = { ...ht2Cell(0), mempages: [{ sizeKb: 4, total: 1048576, reserved: 0 }] };
    const over = applyNumaUsage({ cells: [small] }, numaUsage([small], t, 1));
    expect(over.cells[0]?.pagesUsed).toEqual({ 4: 2359296 });
    const under = applyNumaUsage({ cells: [small] }, numaUsage([small], t, -1));
    expect(under.cells[0]).toMatchObject({ cpuUsage: 0, memoryUsageMb: 0, pagesUsed: { 4: 0 } });
  });

  it('pin problems: a CPU pinned twice, unpinned while free, or not the cell’s', () => {
    const cell = { ...ht2Cell(0), pinnedCpus: [1, 5] };
    expect(pinProblems(cell, { pin: [1, 2, 0], sign: 1 })).toEqual({ invalid: [1], unknown: [0] });
    expect(pinProblems(cell, { pin: [1, 2], sign: -1 })).toEqual({ invalid: [2], unknown: [] });
  });
});

describe('the refusal texts (Nova §8)', () => {
  it('are Nova’s, character for character', () => {
    expect(numaRefusal()).toBe(
      'Insufficient compute resources: Requested instance NUMA topology cannot fit the given host NUMA topology.',
    );
    expect(numaRefusal({ pci: true })).toBe(
      'Insufficient compute resources: Requested instance NUMA topology together with requested PCI devices cannot fit the given host NUMA topology.',
    );
    expect(numaRefusal({ pci: true, pciShort: true })).toBe(
      'Insufficient compute resources: Requested instance NUMA topology together with requested PCI devices cannot fit the given host NUMA topology; Claim pci failed.',
    );
    expect(numaReasons()).toEqual(['Requested instance NUMA topology cannot fit the given host NUMA topology']);
  });
});

// The NUMA fit (rules F1–F6) on the worked examples E1–E19 of Nova's behaviour, each checked at the fit and
// usage level; where Nova's outcome is a defect (E13–E17) the test says so and asserts ours (NU1–NU4).
// Then a seeded property test: random hosts and claims never pin a CPU twice, never pin outside pcpuset,
// never overfill a page pool or a ratio, and the search gives the first permutation that fits.
import {
  applyNumaUsage,
  decideNuma,
  fitConditions,
  fitNumaTopology,
  fitPair,
  meetsConditions,
  numaRequestFrom,
  numaUsage,
  orderCells,
  pinProblems,
  requestFromFitted,
  type FitOptions,
  type FittedTopology,
  type HostCell,
  type HostTopology,
  type NumaLimits,
  type NumaRequest,
  type PciDevice,
} from '../../../lib/domain';
import { seeded } from './fixtures';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const RATIO_1: NumaLimits = { cpuAllocationRatio: 1, ramAllocationRatio: 1 };

/** A host cell: nothing used unless told; 4K pages only when given. */
const cell = (id: number, over: Partial<HostCell> = {}): HostCell => ({
  id,
  cpuset: [],
  pcpuset: [],
  memoryMb: 4096,
  siblings: [],
  mempages: [],
  cpuUsage: 0,
  memoryUsageMb: 0,
  pinnedCpus: [],
  pagesUsed: {},
  ...over,
});
const small = (memoryMb: number, reserved = 0) => ({ sizeKb: 4, total: memoryMb * 256, reserved });

/** Host HT2 (E5–E8, E13): 2 cells of 8192 MB, shared {0,4}, dedicated {1,2,3,5,6,7} (+8 on cell 1). */
const ht2 = (hugepages = true): HostTopology => ({
  cells: [0, 1].map((id) => {
    const o = id * 8;
    return cell(id, {
      cpuset: [0, 4].map((c) => c + o),
      pcpuset: [1, 2, 3, 5, 6, 7].map((c) => c + o),
      memoryMb: 8192,
      siblings: [0, 1, 2, 3].map((c) => [c + o, c + o + 4]),
      mempages: hugepages ? [small(6144), { sizeKb: 2048, total: 1024, reserved: 0 }] : [small(8192)],
    });
  }),
});

const flavor = (vcpus: number, memoryMb: number, extraSpecs: Record<string, string> = {}) => {
  const r = numaRequestFrom({ vcpus, memoryMb, extraSpecs });
  if (!r) throw new Error('the flavor asks for no NUMA topology');
  return r;
};
const DED = { 'hw:cpu_policy': 'dedicated' };
const NODES1 = { 'hw:numa_nodes': '1' };

/** Fits and applies the claim, as the store would; throws when it does not fit. */
function claim(host: HostTopology, request: NumaRequest, options: Partial<FitOptions> = {}) {
  const fitted = fitNumaTopology(host, request, { limits: null, ...options });
  if (!fitted) throw new Error('no fit');
  return { fitted, host: applyNumaUsage(host, numaUsage(host.cells, fitted, 1)) };
}
const release = (host: HostTopology, fitted: FittedTopology) => applyNumaUsage(host, numaUsage(host.cells, fitted, -1));
const fits = (host: HostTopology, request: NumaRequest, options: Partial<FitOptions> = {}) =>
  fitNumaTopology(host, request, { limits: null, ...options });
/** Rule U4: the cells rebuilt from nothing used plus every stored topology, in order. */
const recount = (inventory: HostTopology, stored: FittedTopology[]) =>
  stored.reduce((h, t) => applyNumaUsage(h, numaUsage(h.cells, t, 1)), inventory);
const usage = (c: HostCell | undefined) => c && [c.memoryUsageMb, c.cpuUsage];

describe('examples E1, E2: shared cells, spread, limits', () => {
  const host: HostTopology = {
    cells: [0, 1].map((id) => cell(id, { cpuset: range(id * 4, id * 4 + 4), mempages: [small(4096)] })),
  };
  const s1 = flavor(2, 3072, NODES1);

  it('E1: #1 lands on cell 0 (a tie, host order), #2 on cell 1 (less cpu usage)', () => {
    const one = claim(host, s1, { limits: RATIO_1 });
    expect(one.fitted.cells.map((c) => c.id)).toEqual([0]);
    expect(one.host.cells[0]).toMatchObject({ memoryUsageMb: 3072, cpuUsage: 2, pagesUsed: { 4: 786432 } });
    const two = claim(one.host, s1, { limits: RATIO_1 });
    expect(two.fitted.cells[0]?.id).toBe(1);
    expect(usage(two.host.cells[1])).toEqual([3072, 2]);
  });

  it('E2: #3 refused at ram 1.0; #4 at 1.5 fits by equality; #6 refused; #7 without limits overcommits', () => {
    const full = claim(claim(host, s1).host, s1).host;
    expect(fits(full, s1, { limits: RATIO_1 })).toBeNull();
    const r15 = { cpuAllocationRatio: 1, ramAllocationRatio: 1.5 };
    const four = claim(full, s1, { limits: r15 });
    expect(four.fitted.cells[0]?.id).toBe(0);
    expect(usage(four.host.cells[0])).toEqual([6144, 4]);
    const five = claim(four.host, s1, { limits: r15 });
    expect(five.fitted.cells[0]?.id).toBe(1);
    expect(fits(five.host, s1, { limits: { cpuAllocationRatio: 16, ramAllocationRatio: 1.5 } })).toBeNull();
    const seven = claim(five.host, s1, { limits: null });
    expect(seven.host.cells[0]).toMatchObject({ memoryUsageMb: 9216, pagesUsed: { 4: 2359296 } });
  });

  it('E2 #8: a flavor without NUMA makes no request and touches no cell', () => {
    const request = numaRequestFrom({ vcpus: 2, memoryMb: 3072, extraSpecs: {} });
    expect(decideNuma(host, request, { limits: RATIO_1 })).toEqual({ kind: 'none' });
  });
});

describe('examples E3, E4: manual cells, permutations, self-overcommit, counts', () => {
  const host: HostTopology = {
    cells: [
      cell(0, { cpuset: range(0, 4), mempages: [small(4096)] }),
      cell(1, { cpuset: range(4, 8), memoryMb: 2048, mempages: [small(2048)] }),
    ],
  };
  const e3 = flavor(4, 4096, {
    'hw:numa_nodes': '2',
    'hw:numa_cpus.0': '0',
    'hw:numa_cpus.1': '1-3',
    'hw:numa_mem.0': '1024',
    'hw:numa_mem.1': '3072',
  });

  it('E3: (0,1) fails on cell 1, the permutation (1,0) fits; host order kept (equal counts)', () => {
    expect(orderCells(host, e3, { limits: null }).map((c) => c.id)).toEqual([0, 1]);
    const { fitted, host: after } = claim(host, e3);
    expect(fitted.cells.map((c) => c.id)).toEqual([1, 0]);
    expect(after.cells.map(usage)).toEqual([
      [3072, 3],
      [1024, 1],
    ]);
  });

  it('E4: #2 overcommits without limits; #3 refused at ram 1.0; #4 5 vCPUs; #5 3 cells; #6 abort; #7 audit', () => {
    const three = claim(host, e3);
    const even = flavor(4, 4096, { 'hw:numa_nodes': '2' });
    const two = claim(three.host, even);
    expect(two.fitted.cells.map((c) => [c.id, c.memoryMb])).toEqual([
      [0, 2048],
      [1, 2048],
    ]);
    expect(two.host.cells[0]?.memoryUsageMb).toBe(5120);
    expect(fits(two.host, even, { limits: RATIO_1 })).toBeNull();
    expect(fits(host, flavor(5, 1024, NODES1))).toBeNull();
    expect(fits(host, flavor(3, 3072, { 'hw:numa_nodes': '3' }))).toBeNull();
    const aborted = release(two.host, three.fitted);
    expect(aborted.cells.map(usage)).toEqual([
      [2048, 2],
      [2048, 2],
    ]);
    expect(recount(host, [two.fitted])).toEqual(aborted);
  });
});

describe('examples E5–E8: pinning on host HT2', () => {
  const ded2 = flavor(2, 2048, DED);

  it('E5: prefer packs a sibling pair; no cpu usage; the second goes to the cell with more free pCPUs', () => {
    const one = claim(ht2(), ded2);
    expect(one.fitted.cells).toEqual([
      expect.objectContaining({ id: 0, cpuPinning: { '0': 1, '1': 5 }, cpusetReserved: [], pagesizeKb: null }),
    ]);
    expect(one.host.cells[0]).toMatchObject({
      pinnedCpus: [1, 5],
      memoryUsageMb: 2048,
      cpuUsage: 0,
      pagesUsed: { 4: 524288 },
    });
    expect(claim(one.host, ded2).fitted.cells[0]).toMatchObject({ id: 1, cpuPinning: { '0': 9, '1': 13 } });
  });

  it('E6: emulator threads isolate reserve one more pCPU on guest cell 0; not without one more free', () => {
    const two = claim(claim(ht2(), ded2).host, ded2).host;
    const iso = flavor(2, 2048, { ...DED, 'hw:emulator_threads_policy': 'isolate' });
    const three = claim(two, iso);
    expect(three.fitted.cells[0]).toMatchObject({ id: 0, cpuPinning: { '0': 2, '1': 6 }, cpusetReserved: [3] });
    expect(three.host.cells[0]?.pinnedCpus).toEqual([1, 2, 3, 5, 6]);
    const twoCells = flavor(4, 4096, { ...DED, 'hw:numa_nodes': '2', 'hw:emulator_threads_policy': 'isolate' });
    const spread = claim(ht2(), twoCells).fitted.cells;
    expect(spread.map((c) => [c.id, c.cpusetReserved])).toEqual([
      [0, [2]],
      [1, []],
    ]);
    const tiny: HostTopology = { cells: [cell(0, { pcpuset: [0, 1], siblings: [[0], [1]] })] };
    expect(fits(tiny, iso)).toBeNull();
    expect(fits(tiny, ded2)).not.toBeNull();
  });

  it('E7, E8: mixed on the cell with more free pCPUs; require refused; abort; retry; audit; delete', () => {
    const e5a = claim(ht2(), ded2);
    const e5b = claim(e5a.host, ded2);
    const e6 = claim(e5b.host, flavor(2, 2048, { ...DED, 'hw:emulator_threads_policy': 'isolate' }));
    const mixed = flavor(4, 4096, { 'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '2-3' });
    const e7 = claim(e6.host, mixed, { limits: { cpuAllocationRatio: 16, ramAllocationRatio: 1.5 } });
    expect(e7.fitted.cells[0]).toMatchObject({
      id: 1,
      cpuset: [0, 1],
      pcpuset: [2, 3],
      cpuPinning: { '2': 10, '3': 14 },
    });
    expect(e7.host.cells[1]).toMatchObject({ cpuUsage: 2, memoryUsageMb: 6144, pinnedCpus: [9, 10, 13, 14] });
    const require4 = flavor(4, 4096, { ...DED, 'hw:cpu_thread_policy': 'require' });
    expect(fits(e7.host, require4)).toBeNull();
    const aborted = release(e7.host, e7.fitted);
    expect(aborted.cells[1]).toMatchObject({ cpuUsage: 0, memoryUsageMb: 2048, pinnedCpus: [9, 13] });
    const retry = claim(aborted, require4);
    expect(retry.fitted.cells[0]).toMatchObject({ id: 1, cpuPinning: { '0': 10, '1': 14, '2': 11, '3': 15 } });
    expect(recount(ht2(), [e5a.fitted, e5b.fitted, e6.fitted, retry.fitted])).toEqual(retry.host);
    expect(release(retry.host, e5a.fitted).cells[0]?.pinnedCpus).toEqual([2, 3, 6]);
  });
});

describe('example E9: huge pages', () => {
  const host: HostTopology = {
    cells: [
      cell(0, { cpuset: range(0, 4), mempages: [small(2048), { sizeKb: 2048, total: 1024, reserved: 256 }] }),
      cell(1, { cpuset: range(4, 8), mempages: [small(2048), { sizeKb: 1048576, total: 2, reserved: 0 }] }),
    ],
  };
  const paged = (size: string, memoryMb = 1024) => flavor(1, memoryMb, { 'hw:mem_page_size': size });

  it('#1–#12: large, 2048, 1GB, small; refusals for free pages, divisibility, total small pages, any', () => {
    const one = claim(host, paged('large'));
    expect(one.fitted.cells[0]).toMatchObject({ id: 0, pagesizeKb: 2048 });
    expect(one.host.cells[0]?.pagesUsed).toEqual({ 2048: 512 });
    expect(fits(one.host, paged('2048'))).toBeNull();
    const three = claim(one.host, paged('1GB'));
    expect(three.fitted.cells[0]).toMatchObject({ id: 1, pagesizeKb: 1048576 });
    const four = claim(three.host, paged('1GB'));
    expect(four.fitted.cells[0]?.id).toBe(1);
    expect(four.host.cells[1]?.pagesUsed).toEqual({ 1048576: 2 });
    expect(fits(four.host, paged('1GB'))).toBeNull();
    expect(fits(host, paged('1GB', 1500))).toBeNull();
    const seven = claim(four.host, paged('small', 2048));
    expect(seven.fitted.cells[0]).toMatchObject({ id: 0, pagesizeKb: 4 });
    const eight = claim(seven.host, paged('small', 2048));
    expect(eight.fitted.cells[0]).toMatchObject({ id: 1, pagesizeKb: 4 });
    expect(fits(host, flavor(1, 3000, NODES1))).toBeNull();
    expect(fits(eight.host, paged('any'))).toBeNull();
    const eleven = release(eight.host, one.fitted);
    expect(eleven.cells[0]?.pagesUsed[2048]).toBe(0);
    expect(recount(host, [three.fitted, four.fitted, seven.fitted, eight.fitted])).toEqual({
      cells: eleven.cells.map((c) => ({
        ...c,
        pagesUsed: Object.fromEntries(Object.entries(c.pagesUsed).filter(([, n]) => n > 0)),
      })),
    });
  });
});

describe('example E10: thread policies (rule F5)', () => {
  const legacy = (pinned: number[] = []) =>
    cell(0, {
      cpuset: range(0, 8),
      pcpuset: range(0, 8),
      siblings: [0, 1, 2, 3].map((c) => [c, c + 4]),
      pinnedCpus: pinned,
    });
  const iso2 = flavor(2, 1024, { ...DED, 'hw:cpu_thread_policy': 'isolate' });

  it('isolate on an SMT host with separate sets: no fit (bug #1889633 guard)', () => {
    expect(fits({ cells: [ht2().cells[0] as HostCell] }, iso2)).toBeNull();
  });

  it('isolate, legacy: one thread of each free core; usage pins the siblings', () => {
    const host = { cells: [legacy([1])] };
    const { fitted, host: after } = claim(host, iso2);
    expect(fitted.cells[0]?.cpuPinning).toEqual({ '0': 0, '1': 2 });
    expect(after.cells[0]?.pinnedCpus).toEqual([0, 1, 2, 4, 6]);
  });

  it('isolate without SMT pins linearly; require without SMT has no fit', () => {
    const flat = { cells: [cell(0, { pcpuset: range(0, 4), siblings: range(0, 4).map((c) => [c]) })] };
    expect(claim(flat, iso2).fitted.cells[0]?.cpuPinning).toEqual({ '0': 0, '1': 1 });
    expect(fits(flat, flavor(2, 1024, { ...DED, 'hw:cpu_thread_policy': 'require' }))).toBeNull();
  });

  it('prefer: the fallback splits cores ({4},{1,5} → 4,1,5); four free cores pack pairs (0,4,1)', () => {
    const partly = cell(0, {
      pcpuset: [0, 1, 4, 5],
      siblings: [
        [0, 4],
        [1, 5],
      ],
      pinnedCpus: [0],
    });
    expect(claim({ cells: [partly] }, flavor(3, 1024, DED)).fitted.cells[0]?.cpuPinning).toEqual({
      '0': 4,
      '1': 1,
      '2': 5,
    });
    const free = cell(0, { pcpuset: range(0, 8), siblings: [0, 1, 2, 3].map((c) => [c, c + 4]) });
    expect(claim({ cells: [free] }, flavor(3, 1024, DED)).fitted.cells[0]?.cpuPinning).toEqual({
      '0': 0,
      '1': 4,
      '2': 1,
    });
  });

  it('a pinned guest never overcommits memory: 2048 MB asked, 1024 available', () => {
    expect(fits({ cells: [legacy()].map((c) => ({ ...c, memoryUsageMb: 3072 })) }, flavor(2, 2048, DED))).toBeNull();
  });

  it('isolate with emulator threads reserves a thread of a whole free core (rule NU7), never one whose sibling is pinned', () => {
    // Nova reserves 5, whose sibling 1 is pinned, and then fails to pin 5's core with its siblings.
    const host = {
      cells: [{ ...legacy([1]), cpuset: range(0, 7), pcpuset: range(0, 7), siblings: [[0, 4], [1, 5], [2, 6], [3]] }],
    };
    const g = flavor(1, 1024, { ...DED, 'hw:cpu_thread_policy': 'isolate', 'hw:emulator_threads_policy': 'isolate' });
    const { fitted, host: after } = claim(host, g);
    expect(fitted.cells[0]).toMatchObject({ cpuPinning: { '0': 0 }, cpusetReserved: [2] });
    expect(after.cells[0]?.pinnedCpus).toEqual([0, 1, 2, 4, 6]);
  });

  it('a mixed guest cell without dedicated vCPUs pins nothing, even where no core is free', () => {
    const host = {
      cells: [cell(0, { cpuset: [0, 1], pcpuset: [2], pinnedCpus: [2] }), cell(1, { cpuset: [4, 5], pcpuset: [6, 7] })],
    };
    const g = flavor(4, 2048, {
      'hw:cpu_policy': 'mixed',
      'hw:cpu_dedicated_mask': '2-3',
      'hw:numa_nodes': '2',
      'hw:cpu_thread_policy': 'isolate',
    });
    expect(fits(host, g)?.cells.map((c) => [c.id, c.cpuPinning])).toEqual([
      [0, {}],
      [1, { '2': 6, '3': 7 }],
    ]);
  });

  it('a pCPU in no sibling set is a core of its own (rule NU7)', () => {
    expect(claim({ cells: [cell(0, { pcpuset: [2, 3] })] }, flavor(2, 1024, DED)).fitted.cells[0]?.cpuPinning).toEqual({
      '0': 2,
      '1': 3,
    });
  });
});

describe('example E11: PCI affinity (rule F6)', () => {
  const dev = (address: string, numaNode: number | null): PciDevice => ({
    address,
    vendorId: '8086',
    productId: '1520',
    numaNode,
    deviceType: 'type-PCI',
    busyChildren: 0,
    version: 1,
  });
  const host = (cell1Used: number): HostTopology => ({
    cells: [cell(0, { cpuset: [0, 1] }), cell(1, { cpuset: [2, 3], memoryUsageMb: cell1Used })],
  });
  const g = flavor(1, 1024, NODES1);
  const pci = (numaNode: number | null, numaPolicy?: 'required' | 'legacy' | 'preferred') => ({
    requests: [{ count: 1, spec: [{ vendorId: '8086' }], ...(numaPolicy ? { numaPolicy } : {}) }],
    devices: [dev('0000:81:00.0', numaNode)],
  });

  it('required and legacy: no fit with the device on the full cell; legacy takes a device without a node', () => {
    expect(fits(host(3584), g, { limits: RATIO_1, pci: pci(1, 'required') })).toBeNull();
    expect(fits(host(3584), g, { limits: RATIO_1, pci: pci(1) })).toBeNull();
    const none = fits(host(3584), g, { limits: RATIO_1, pci: pci(null, 'legacy') });
    expect(none?.cells[0]?.id).toBe(0);
    expect(none?.pciDevices).toEqual(['0000:81:00.0']);
  });

  it('preferred: any device when the chosen cells have none', () => {
    const fitted = fits(host(3584), g, { limits: RATIO_1, pci: pci(1, 'preferred') });
    expect(fitted?.cells[0]?.id).toBe(0);
    expect(fitted?.pciDevices).toEqual(['0000:81:00.0']);
  });

  it('the cell with the device is tried first, despite less free memory (rule F2, third key)', () => {
    expect(fits(host(2048), g, { limits: RATIO_1, pci: pci(1) })?.cells[0]?.id).toBe(1);
    expect(fits(host(2048), g, { limits: RATIO_1 })?.cells[0]?.id).toBe(0);
  });
});

describe('example E12: spread, pack and the key order (rule F2)', () => {
  it('a 1-cell request goes to the emptier cell by default, to the fuller one when packing', () => {
    const host = {
      cells: [cell(0, { cpuset: [0, 1], memoryUsageMb: 1024, cpuUsage: 1 }), cell(1, { cpuset: [2, 3] })],
    };
    const g = flavor(1, 512, NODES1);
    expect(fits(host, g)?.cells[0]?.id).toBe(1);
    expect(fits(host, g, { strategy: 'pack' })?.cells[0]?.id).toBe(0);
  });

  it('the CPU key outranks memory: shared by cpu usage, dedicated by free pCPUs', () => {
    const shared = {
      cells: [cell(0, { cpuset: [0, 1, 2, 3], cpuUsage: 3 }), cell(1, { cpuset: [4, 5, 6, 7], memoryUsageMb: 2048 })],
    };
    expect(fits(shared, flavor(1, 512, NODES1))?.cells[0]?.id).toBe(1);
    const pinned = {
      cells: [
        cell(0, { pcpuset: [0, 1, 2, 3], pinnedCpus: [0, 1, 2] }),
        cell(1, { pcpuset: [4, 5, 6, 7], memoryUsageMb: 2048 }),
      ],
    };
    expect(fits(pinned, flavor(1, 512, DED))?.cells[0]).toMatchObject({ id: 1, cpuPinning: { '0': 4 } });
  });
});

describe('examples E13–E17: where Nova is wrong, ours is corrected', () => {
  it("E13 (Nova's A2, ours NU4): a same-node resize holds old and new; the audit finds no pin twice", () => {
    const ded2 = claim(ht2(false), flavor(2, 2048, DED));
    expect(ded2.fitted.cells[0]?.cpuPinning).toEqual({ '0': 1, '1': 5 });
    const resized = claim(ded2.host, flavor(4, 4096, DED));
    expect(resized.fitted.cells[0]).toMatchObject({ id: 1, cpuPinning: { '0': 9, '1': 13, '2': 10, '3': 14 } });
    // Nova's audit fails here with "CPU set to pin [9, 10, 13, 14] must be a subset of free CPU set [11, 15]".
    const audit = recount(ht2(false), [ded2.fitted, resized.fitted]);
    expect(audit).toEqual(resized.host);
    expect(audit.cells.map((c) => c.pinnedCpus)).toEqual([
      [1, 5],
      [9, 10, 13, 14],
    ]);
    const confirmed = release(resized.host, ded2.fitted);
    expect(confirmed.cells[0]).toMatchObject({ pinnedCpus: [], memoryUsageMb: 0 });
  });

  it("E14 (Nova's F8, ours NU1): Nova refuses; ours fits guest 0 → cell 0, guest 1 → cell 1", () => {
    const host = { cells: [3072, 0, 3072].map((used, id) => cell(id, { cpuset: [id], memoryUsageMb: used })) };
    const g = numaRequestFrom({
      vcpus: 2,
      memoryMb: 3072,
      extraSpecs: {
        'hw:numa_nodes': '2',
        'hw:numa_cpus.0': '0',
        'hw:numa_cpus.1': '1',
        'hw:numa_mem.0': '1024',
        'hw:numa_mem.1': '2048',
      },
    }) as NumaRequest;
    expect(fits(host, g, { limits: RATIO_1 })?.cells.map((c) => c.id)).toEqual([0, 1]);
  });

  it("E15 (Nova's F8, ours NU1): Nova places guest cell 2 unpinned; ours pins every cell, on hosts 1, 2, 0", () => {
    const host = {
      cells: [0, 3072, 3072, 3072].map((used, id) => cell(id, { pcpuset: [2 * id, 2 * id + 1], memoryUsageMb: used })),
    };
    const g = numaRequestFrom({
      vcpus: 3,
      memoryMb: 3072,
      extraSpecs: {
        ...DED,
        'hw:numa_nodes': '3',
        'hw:numa_cpus.0': '0',
        'hw:numa_cpus.1': '1',
        'hw:numa_cpus.2': '2',
        'hw:numa_mem.0': '512',
        'hw:numa_mem.1': '512',
        'hw:numa_mem.2': '2048',
      },
    }) as NumaRequest;
    const fitted = fits(host, g);
    expect(fitted?.cells.map((c) => c.id)).toEqual([1, 2, 0]);
    expect(fitted?.cells.map((c) => Object.keys(c.cpuPinning).length)).toEqual([1, 1, 1]);
  });

  it('E16 (ours NU2): Nova writes 2048 into the request and refuses; ours fits cell 1 with 1G pages', () => {
    const host = {
      cells: [
        cell(0, { cpuset: [0, 1], memoryMb: 8192, mempages: [{ sizeKb: 2048, total: 4096, reserved: 0 }] }),
        cell(1, {
          cpuset: [2, 3, 4, 5],
          memoryMb: 8192,
          mempages: [small(0), { sizeKb: 1048576, total: 8, reserved: 0 }],
        }),
      ],
    };
    const large = flavor(4, 2048, { 'hw:mem_page_size': 'large' });
    const before = structuredClone(large);
    expect(fits(host, large)?.cells[0]).toMatchObject({ id: 1, pagesizeKb: 1048576 });
    expect(large).toEqual(before);
    expect(fits(host, flavor(4, 2048, { 'hw:mem_page_size': '1GB' }))?.cells[0]?.id).toBe(1);
    expect(fits({ cells: [host.cells[1] as HostCell, host.cells[0] as HostCell] }, large)?.cells[0]?.id).toBe(1);
  });

  it('E17 (bug #1811886, ours NU3): Nova fits a pinned guest on used small pages; ours refuses, and fits it on the 1G page', () => {
    const host = {
      cells: [
        cell(0, {
          pcpuset: [0, 1],
          memoryMb: 2048,
          mempages: [small(1024), { sizeKb: 1048576, total: 1, reserved: 0 }],
          memoryUsageMb: 1024,
          pinnedCpus: [0],
          pagesUsed: { 4: 262144 },
        }),
      ],
    };
    expect(fits(host, flavor(1, 1024, DED))).toBeNull();
    expect(fits(host, flavor(1, 1024, { ...DED, 'hw:mem_page_size': '1GB' }))?.cells[0]).toMatchObject({
      pagesizeKb: 1048576,
      cpuPinning: { '0': 1 },
    });
  });
});

describe('examples E18, E19 and rule F1', () => {
  it('E18 (rule H5, kept as NU6): a node without a topology ignores a dedicated request', () => {
    expect(decideNuma(null, flavor(2, 2048, DED), { limits: null })).toEqual({ kind: 'ignored' });
    expect(decideNuma(ht2(), flavor(2, 2048, DED), { limits: null }).kind).toBe('fitted');
    expect(decideNuma(ht2(), flavor(2, 16384, DED), { limits: null })).toEqual({ kind: 'refused' });
  });

  it('E19: request errors are raised building the request (numa-request.test.ts), never by the fit', () => {
    expect(() => numaRequestFrom({ vcpus: 2, memoryMb: 2048, extraSpecs: { 'hw:numa_nodes': '3' } })).toThrow(
      'Instance CPUs and/or memory cannot be evenly distributed across instance NUMA nodes.',
    );
  });

  it('F1: fewer host cells than guest cells, no fit', () => {
    expect(fits({ cells: [cell(0, { cpuset: [0, 1] })] }, flavor(2, 2048, { 'hw:numa_nodes': '2' }))).toBeNull();
  });
});

describe('fitConditions: what the store conditions its write on', () => {
  it('a pinned cell: its pins free (with the emulator CPU), memory left, free small pages; no ratio', () => {
    const host = ht2();
    const fitted = fits(host, flavor(2, 2048, { ...DED, 'hw:emulator_threads_policy': 'isolate' }), {
      limits: RATIO_1,
    });
    expect(fitConditions(host, fitted as FittedTopology, RATIO_1)).toEqual([
      {
        cellId: 0,
        free: [1, 2, 5],
        memoryUsageAtMost: 8192 - 2048,
        cpuUsageAtMost: null,
        pagesUsedAtMost: { sizeKb: 4, value: 1572864 - 524288 },
      },
    ]);
  });

  it('a shared cell with limits: ratio headroom, rounded down; pages only for a requested size', () => {
    const host = { cells: [cell(0, { cpuset: [0, 1, 2], memoryMb: 1000, mempages: [small(1000)] })] };
    const limits = { cpuAllocationRatio: 1.5, ramAllocationRatio: 1.1 };
    const plain = fits(host, flavor(2, 500, NODES1), { limits }) as FittedTopology;
    expect(fitConditions(host, plain, limits)).toEqual([
      { cellId: 0, free: [], memoryUsageAtMost: 1100 - 500, cpuUsageAtMost: 4 - 2, pagesUsedAtMost: null },
    ]);
    const paged = fits(host, flavor(2, 500, { 'hw:mem_page_size': 'small' }), { limits }) as FittedTopology;
    expect(fitConditions(host, paged, null)).toEqual([
      {
        cellId: 0,
        free: [],
        memoryUsageAtMost: null,
        cpuUsageAtMost: null,
        pagesUsedAtMost: { sizeKb: 4, value: 256000 - 128000 },
      },
    ]);
  });

  it('under isolate the siblings must be free too; a claim that raced for them fails the conditions', () => {
    const host = {
      cells: [
        cell(0, {
          cpuset: range(0, 4),
          pcpuset: range(0, 4),
          siblings: [
            [0, 2],
            [1, 3],
          ],
        }),
      ],
    };
    const fitted = fits(host, flavor(1, 512, { ...DED, 'hw:cpu_thread_policy': 'isolate' })) as FittedTopology;
    const conditions = fitConditions(host, fitted, null);
    expect(conditions[0]?.free).toEqual([0, 2]);
    const raced = { cells: [{ ...(host.cells[0] as HostCell), pinnedCpus: [2] }] };
    expect(meetsConditions(host, conditions)).toBe(true);
    expect(meetsConditions(raced, conditions)).toBe(false);
  });
});

describe('a stored topology as a request again (an unshelve)', () => {
  it('keeps its cells, policies and concrete page size, and fits the same cells on the same host', () => {
    const host = ht2();
    const g = flavor(4, 4096, { ...DED, 'hw:numa_nodes': '2', 'hw:mem_page_size': 'large' });
    const first = fits(host, g) as FittedTopology;
    const again = requestFromFitted(first);
    expect(again.cells.map((c) => [c.id, c.pagesize])).toEqual([
      [0, 2048],
      [1, 2048],
    ]);
    expect(again.cpuPolicy).toBe('dedicated');
    expect(fits(host, again)).toEqual(first);
  });
});

describe('rule NU8: a bounded search', () => {
  const host = { cells: range(0, 16).map((id) => cell(id, { cpuset: [id], memoryMb: id === 15 ? 2048 : 1024 })) };
  const guest = (big: number[]) =>
    numaRequestFrom({
      vcpus: 8,
      memoryMb: range(0, 8).reduce((sum, i) => sum + (big.includes(i) ? 2048 : 512), 0),
      extraSpecs: {
        'hw:numa_nodes': '8',
        ...Object.fromEntries(range(0, 8).map((i) => [`hw:numa_cpus.${i}`, String(i)])),
        ...Object.fromEntries(range(0, 8).map((i) => [`hw:numa_mem.${i}`, big.includes(i) ? '2048' : '512'])),
      },
    }) as NumaRequest;

  it('16 cells, a guest of 8 whose last cell fits only the last host cell: found without walking millions', () => {
    expect(fits(host, guest([7]))?.cells.map((c) => c.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 15]);
  });

  it('two guest cells that need the one big host cell: no fit, given up within the budget', () => {
    expect(fits(host, guest([6, 7]))).toBeNull();
  });
});

describe('property: random hosts and claims (500 seeds)', () => {
  type Rand = () => number;
  const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(r: Rand, xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T;

  function randomHost(r: Rand): HostTopology {
    let next = 0;
    const cells = range(0, int(r, 1, 4)).map((id) => {
      const threads = int(r, 1, 2);
      const cores = range(0, int(r, 1, 4)).map(() => range(0, threads).map(() => next++));
      const legacy = r() < 0.3;
      const sharedCores = legacy ? 0 : int(r, 0, cores.length);
      const memoryMb = 1024 * int(r, 1, 8);
      const mempages = r() < 0.2 ? [] : [small(int(r, 1, memoryMb / 1024) * 512)];
      if (r() < 0.6) {
        const total = int(r, 0, 1024);
        mempages.push({ sizeKb: 2048, total, reserved: int(r, 0, Math.min(64, total)) });
      }
      if (r() < 0.3) mempages.push({ sizeKb: 1048576, total: int(r, 0, 4), reserved: 0 });
      return cell(id, {
        cpuset: legacy ? cores.flat() : cores.slice(0, sharedCores).flat(),
        pcpuset: legacy ? cores.flat() : cores.slice(sharedCores).flat(),
        memoryMb,
        siblings: r() < 0.1 ? [] : cores,
        mempages,
      });
    });
    return { cells };
  }

  function randomRequest(r: Rand): NumaRequest {
    const nodes = int(r, 1, 2);
    const vcpus = nodes * int(r, 1, 3);
    const policy = pick(r, ['shared', 'dedicated', 'mixed'] as const);
    const specs: Record<string, string> = { 'hw:numa_nodes': String(nodes) };
    if (policy !== 'shared' || r() < 0.5)
      specs['hw:cpu_policy'] = policy === 'mixed' && vcpus < 2 ? 'dedicated' : policy;
    if (specs['hw:cpu_policy'] === 'mixed') specs['hw:cpu_dedicated_mask'] = `^0`;
    if (specs['hw:cpu_policy'] && specs['hw:cpu_policy'] !== 'shared') {
      const thread = pick(r, [undefined, 'prefer', 'isolate', 'require']);
      if (thread) specs['hw:cpu_thread_policy'] = thread;
      if (r() < 0.3) specs['hw:emulator_threads_policy'] = 'isolate';
    }
    const page = pick(r, [undefined, undefined, 'small', 'large', 'any', '2048', '1GB']);
    if (page) specs['hw:mem_page_size'] = page;
    return flavor(vcpus, nodes * 512 * int(r, 1, 4), specs);
  }

  /** The uncached search: every permutation of the ordered cells, in lexicographic order (rule F3). */
  function reference(host: HostTopology, request: NumaRequest, options: FitOptions): number[] | null {
    const order = orderCells(host, request, options);
    const k = request.cells.length;
    const all = (prefix: number[]): number[] | null => {
      // Every permutation tested whole, as Nova's loop does, without skipping failed prefixes.
      if (prefix.length < k) {
        for (let i = 0; i < order.length; i++) {
          if (prefix.includes(i)) continue;
          const found = all([...prefix, i]);
          if (found) return found;
        }
        return null;
      }
      const ok = prefix.every((h, g) => {
        const reserved = request.emulatorThreadsPolicy === 'isolate' && g === 0 ? 1 : 0;
        return fitPair(order[h] as HostCell, request.cells[g]!, request, options.limits, reserved) !== null;
      });
      return ok ? prefix.map((h) => (order[h] as HostCell).id) : null;
    };
    return k > order.length ? null : all([]);
  }

  /** Every pool a shared guest without a page size used may be overcommitted (rule F4a); the others never. */
  function checkInvariants(host: HostTopology, overcommittable: Set<string>, limits: NumaLimits | null) {
    for (const c of host.cells) {
      expect(new Set(c.pinnedCpus).size).toBe(c.pinnedCpus.length);
      expect(c.pinnedCpus.every((p) => c.pcpuset.includes(p))).toBe(true);
      for (const pool of c.mempages) {
        if (overcommittable.has(`${c.id}/${pool.sizeKb}`)) continue;
        expect(c.pagesUsed[String(pool.sizeKb)] ?? 0).toBeLessThanOrEqual(pool.total - pool.reserved);
      }
      if (limits) {
        expect(c.cpuUsage).toBeLessThanOrEqual(c.cpuset.length * limits.cpuAllocationRatio);
        expect(c.memoryUsageMb).toBeLessThanOrEqual(c.memoryMb * limits.ramAllocationRatio);
      }
    }
  }

  it.each(range(0, 500))('seed %i: no pin twice or outside pcpuset, no overfilled pool or ratio; F3 order', (seed) => {
    const r = seeded(seed);
    let host = randomHost(r);
    const limits = r() < 0.5 ? null : { cpuAllocationRatio: int(r, 1, 4), ramAllocationRatio: pick(r, [1, 1.5]) };
    const options: FitOptions = { limits, strategy: pick(r, ['spread', 'pack'] as const) };
    const overcommittable = new Set<string>();
    const history: HostTopology[] = [host];
    for (let step = 0; step < 8; step++) {
      const request = randomRequest(r);
      // Sometimes fitted on a stale view: then its conditions decide on the current one, as the store's write does.
      const view = r() < 0.3 ? pick(r, history) : host;
      const fitted = fitNumaTopology(view, request, options);
      if (view === host) expect(fitted?.cells.map((c) => c.id) ?? null).toEqual(reference(host, request, options));
      if (!fitted) continue;
      const conditions = fitConditions(view, fitted, limits);
      expect(meetsConditions(view, conditions)).toBe(true);
      if (!meetsConditions(host, conditions)) continue;
      const pinned = request.cpuPolicy === 'dedicated' || request.cpuPolicy === 'mixed';
      for (const [i, g] of fitted.cells.entries()) {
        const pins = Object.values(g.cpuPinning);
        expect(new Set(pins).size).toBe(request.cells[i]?.pcpuset.length);
        if (!pinned && g.pagesizeKb === null) {
          const h = host.cells.find((c) => c.id === g.id) as HostCell;
          h.mempages.forEach((p) => overcommittable.add(`${g.id}/${p.sizeKb}`));
        }
      }
      const changes = numaUsage(host.cells, fitted, 1);
      for (const change of changes) {
        const h = host.cells.find((c) => c.id === change.cellId) as HostCell;
        expect(pinProblems(h, change)).toEqual({ invalid: [], unknown: [] });
      }
      host = applyNumaUsage(host, changes);
      if (pinned) {
        for (const g of fitted.cells) {
          const h = host.cells.find((c) => c.id === g.id) as HostCell;
          expect(h.memoryUsageMb).toBeLessThanOrEqual(h.memoryMb);
        }
      }
      checkInvariants(host, overcommittable, limits);
      history.push(host);
    }
  });
});

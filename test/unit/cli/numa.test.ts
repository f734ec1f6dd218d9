// The CLI's NUMA: --numa FILE and --hw KEY=VALUE as the claim's request, their usage errors, the fitted
// topology a claim answers, and a node's cells in `node show`.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, UsageError } from '../../../cli/args';
import { main } from '../../../cli/main';
import { nodeText, type NodeView } from '../../../cli/node-text';
import { cpuList, extraSpecsOf, fittedText, pageSize, type FittedTopology } from '../../../cli/numa-text';
import { memoryIo } from '../../support/cli-io';

const DIR = mkdtempSync(join(tmpdir(), 'cli-numa-'));
function file(name: string, text: string): string {
  const path = join(DIR, name);
  writeFileSync(path, text);
  return path;
}

const UUID = '6f1d1a8e-1c2b-4c55-9c1e-0000000000a1';
const GUEST = { cells: [{ id: 0, cpuset: [], pcpuset: [0, 1], memoryMb: 2048, cpuPolicy: 'dedicated' }] };
const FITTED: FittedTopology = {
  cells: [
    {
      id: 1,
      memoryMb: 1024,
      pagesizeKb: 2048,
      cpuset: [],
      pcpuset: [0, 1],
      cpuPinning: { 1: 13, 0: 9 },
      cpusetReserved: [10],
    },
    { id: 0, memoryMb: 1024, pagesizeKb: null, cpuset: [2, 3], pcpuset: [], cpuPinning: {}, cpusetReserved: [] },
  ],
  cpuThreadPolicy: 'prefer',
  emulatorThreadsPolicy: 'isolate',
};

describe('NUMA flags', () => {
  it('keeps every --hw in order, in both spellings', () => {
    const args = parseArgs(['claim', 'n', '--hw', 'hw:cpu_policy=dedicated', '--hw=hw:numa_nodes=2']);
    expect(args.lists.get('hw')).toEqual(['hw:cpu_policy=dedicated', 'hw:numa_nodes=2']);
    expect(extraSpecsOf(args.lists.get('hw') ?? [])).toEqual({ 'hw:cpu_policy': 'dedicated', 'hw:numa_nodes': '2' });
  });

  it.each([
    ['hw:cpu_policy', '--hw hw:cpu_policy: give KEY=VALUE, e.g. --hw hw:cpu_policy=dedicated'],
    ['=dedicated', '--hw =dedicated: give KEY=VALUE'],
    ['hw:numa_nodes=', '--hw hw:numa_nodes=: give KEY=VALUE'],
  ])('refuses --hw %s', (value, message) => {
    expect(() => extraSpecsOf([value])).toThrow(UsageError);
    expect(() => extraSpecsOf([value])).toThrow(message);
  });

  it('refuses a key given twice rather than keep one of them', () => {
    expect(() => extraSpecsOf(['hw:numa_nodes=1', 'hw:numa_nodes=2'])).toThrow('--hw hw:numa_nodes is given twice');
  });
});

describe('NUMA claims', () => {
  let fetchSpy: jest.SpyInstance;
  const answer = (body: object) => new Response(JSON.stringify(body), { status: 201 });
  const claimed = (numaTopology?: FittedTopology) => ({
    instanceUuid: UUID,
    vcpus: 4,
    memoryMb: 2048,
    diskGb: 10,
    pciDevices: [],
    ...(numaTopology === undefined ? {} : { numaTopology }),
  });
  beforeEach(() => {
    fetchSpy = jest.spyOn(globalThis, 'fetch').mockResolvedValue(answer(claimed(FITTED)));
  });
  afterEach(() => fetchSpy.mockRestore());
  const sentBody = () => JSON.parse(String((fetchSpy.mock.calls[0] as [URL, RequestInit])[1].body));
  const claim = (...more: string[]) => ['claim', 'n1', '--flavor', '4:2048:10', '--uuid', UUID, ...more];

  it('sends --hw as the flavor extra specs', async () => {
    const io = memoryIo();
    expect(await main(claim('--hw', 'hw:cpu_policy=dedicated', '--hw', 'hw:numa_nodes=2'), io)).toBe(0);
    expect(sentBody()).toEqual({
      instanceUuid: UUID,
      flavor: {
        vcpus: 4,
        memoryMb: 2048,
        rootGb: 10,
        ephemeralGb: 0,
        swapMb: 0,
        extraSpecs: { 'hw:cpu_policy': 'dedicated', 'hw:numa_nodes': '2' },
      },
    });
  });

  it.each([
    ['the topology itself', GUEST],
    ['a body holding only numaTopology', { numaTopology: GUEST }],
  ])('sends the file of --numa as numaTopology: %s', async (_what, content) => {
    expect(await main(claim('--numa', file('guest.json', JSON.stringify(content))), memoryIo())).toBe(0);
    expect(sentBody().numaTopology).toEqual(GUEST);
    expect(sentBody().flavor.extraSpecs).toBeUndefined();
  });

  it.each([
    [['--numa', '/nowhere/guest.json'], /^capacity-tracker: cannot read \/nowhere\/guest\.json: /],
    [['--numa', file('bad.json', '{"cells": [')], /^capacity-tracker: .*bad\.json is not JSON: /],
    [['--numa', file('list.json', '[]')], /^capacity-tracker: --numa .*list\.json: give the instance topology as JSON/],
    [['--numa', file('g.json', JSON.stringify(GUEST)), '--hw', 'hw:numa_nodes=1'], /either as --numa FILE or as --hw/],
    [['--hw', 'dedicated'], /^capacity-tracker: --hw dedicated: give KEY=VALUE/],
    [['--hw'], /^capacity-tracker: --hw needs a value$/],
  ])('is a usage error that sends nothing: %j', async (more, message) => {
    const io = memoryIo();
    expect(await main(claim(...more), io)).toBe(2);
    expect(io.stderr).toEqual([expect.stringMatching(message)]);
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it('prints the fitted topology: host cell per guest cell, pages, shared vCPUs, pinning, emulator CPUs', async () => {
    const io = memoryIo();
    expect(await main(claim('--hw', 'hw:numa_nodes=2'), io)).toBe(0);
    expect(io.stdout.join('\n').split('\n')).toEqual([
      `Claimed ${UUID} on n1: 4 vCPU, 2,048 MB, 10 GB.`,
      'NUMA fit (thread policy prefer, emulator threads isolate)',
      '  GUEST CELL  HOST CELL     MB  PAGES  SHARED vCPUs  PINNED vCPU→CPU  EMULATOR CPUs',
      '  0           1          1,024  2M     -             0→9 1→13         10',
      '  1           0          1,024  -      2-3           -                -',
    ]);
  });

  it('says when the node had no cells and the request was ignored, and nothing of NUMA when none was asked', async () => {
    expect(fittedText(null)).toBe('NUMA: the node reports no cells, so the NUMA request was ignored.');
    fetchSpy.mockResolvedValue(answer(claimed()));
    const io = memoryIo();
    expect(await main(claim(), io)).toBe(0);
    expect(io.stdout).toEqual([`Claimed ${UUID} on n1: 4 vCPU, 2,048 MB, 10 GB.`]);
  });
});

describe('NUMA move claims', () => {
  let fetchSpy: jest.SpyInstance;
  const move = {
    migration: {
      migrationId: 'm1',
      moveType: 'resize',
      instanceUuid: UUID,
      sourceNodeId: 'n0',
      destNodeId: 'n1',
      status: 'pre-migrating',
      sequence: 0,
    },
    claim: {
      nodeId: 'n1',
      instanceUuid: UUID,
      vcpus: 4,
      memoryMb: 2048,
      diskGb: 10,
      pciDevices: [],
      numaTopology: FITTED,
    },
  };
  beforeEach(() => {
    fetchSpy = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response(JSON.stringify(move), { status: 201 }));
  });
  afterEach(() => fetchSpy.mockRestore());
  const migrate = (...more: string[]) => ['migrate', 'n1', '--instance', UUID, '--from', 'n0', '--id', 'm1', ...more];

  it("sends --hw as the new flavor's extra specs and prints the destination's fit", async () => {
    const io = memoryIo();
    expect(await main(migrate('--flavor', '4:2048:10', '--hw', 'hw:cpu_policy=dedicated'), io)).toBe(0);
    const sent = JSON.parse(String((fetchSpy.mock.calls[0] as [URL, RequestInit])[1].body));
    expect(sent.newFlavor.extraSpecs).toEqual({ 'hw:cpu_policy': 'dedicated' });
    expect(sent.moveType).toBe('resize');
    const text = io.stdout.join('\n').split('\n');
    expect(text.slice(0, 2)).toEqual([
      'Claimed 4 vCPU, 2,048 MB, 10 GB on n1.',
      `Migration m1 (resize) of ${UUID} from n0 to n1: pre-migrating, sequence 0.`,
    ]);
    expect(text[2]).toBe('NUMA fit (thread policy prefer, emulator threads isolate)');
  });

  it('sends --numa as numaTopology, and refuses --hw without --flavor', async () => {
    expect(await main(migrate('--numa', file('move.json', JSON.stringify(GUEST))), memoryIo())).toBe(0);
    expect(JSON.parse(String((fetchSpy.mock.calls[0] as [URL, RequestInit])[1].body)).numaTopology).toEqual(GUEST);
    fetchSpy.mockClear();
    const io = memoryIo();
    expect(await main(migrate('--hw', 'hw:numa_nodes=2'), io)).toBe(2);
    expect(io.stderr).toEqual(["capacity-tracker: --hw gives the new flavor's extra specs: give --flavor too"]);
    expect(fetchSpy).not.toHaveBeenCalled();
  });
});

describe('node show with NUMA cells', () => {
  const cell = (id: number, more: Partial<NonNullable<NodeView['numaTopology']>['cells'][number]>) => ({
    id,
    cpuset: [id * 8, id * 8 + 4],
    pcpuset: [1, 2, 3, 5, 6, 7].map((c) => c + id * 8),
    memoryMb: 8192,
    siblings: [],
    cpuUsage: 0,
    memoryUsageMb: 0,
    pinnedCpus: [],
    mempages: [
      { sizeKb: 4, total: 2097152, reserved: 0, used: 0 },
      { sizeKb: 1048576, total: 4, reserved: 1, used: 0 },
    ],
    ...more,
  });
  const node = {
    nodeId: 'numa0',
    vcpus: 16,
    memoryMb: 16384,
    localGb: 100,
    cpuAllocationRatio: 16,
    ramAllocationRatio: 1.5,
    diskAllocationRatio: 1,
    reservedHostMemoryMb: 0,
    reservedHostDiskMb: 0,
    reservedHostCpus: 0,
    vcpusUsed: 4,
    memoryMbUsed: 3072,
    localGbUsed: 20,
    freeRamMb: 13312,
    freeDiskGb: 80,
    runningVms: 2,
    currentWorkload: 0,
    limits: { vcpus: 256, memoryMb: 24576, diskGb: 100 },
    stats: {},
    pciDevicePools: [],
    generation: 3,
    traits: [],
    aggregates: [],
    numaTopology: {
      cells: [
        cell(0, {
          pinnedCpus: [1, 5],
          memoryUsageMb: 2048,
          mempages: [{ sizeKb: 4, total: 2097152, reserved: 0, used: 524288 }],
        }),
        cell(1, { cpuUsage: 2, memoryUsageMb: 1024, unknownPinnedCpus: [16], pinnedCpus: [16] }),
      ],
    },
  } satisfies NodeView;
  const record = {
    nodeId: 'numa0',
    instanceUuid: UUID,
    memoryMb: 2048,
    diskGb: 10,
    vcpus: 2,
    pciDevices: [],
    flavor: { vcpus: 2, memoryMb: 2048, rootGb: 10, ephemeralGb: 0, swapMb: 0 },
    volumeBacked: false,
    overhead: { memoryMb: 0, diskGb: 0, vcpus: 0 },
    vmState: 'active' as const,
    taskState: null,
    osType: null,
    projectId: null,
    version: 1,
    numaTopology: { cells: [{ ...FITTED.cells[0]!, id: 0, cpuPinning: { 0: 1, 1: 5 }, cpusetReserved: [] }] },
  };

  it('prints per cell the dedicated CPUs free and pinned, shared use, memory and pages by size', () => {
    const text = nodeText(node, [record], { color: false }).split('\n');
    const cells = text.slice(text.indexOf('NUMA cells'), text.indexOf('Instances') - 1);
    expect(cells).toEqual([
      'NUMA cells',
      '  CELL  PCPUS free/total  PINNED                 SHARED used/cpus  MB used/total  PAGES used/total',
      '  0     4/6               1,5                                 0/2    2,048/8,192  4K 524,288/2,097,152',
      '  1     6/6               16 (not reported: 16)               2/2    1,024/8,192  4K 0/2,097,152, 1G 0/3',
    ]);
    expect(text.find((l) => l.includes(UUID))).toMatch(/cell 0 CPUs 1,5$/);
  });

  it('names CPU lists and page sizes compactly', () => {
    expect(cpuList([11, 0, 1, 2, 3, 8, 10])).toBe('0-3,8,10-11');
    expect(cpuList([])).toBe('-');
    expect([4, 2048, 1048576, 64].map(pageSize)).toEqual(['4K', '2M', '1G', '64K']);
  });
});

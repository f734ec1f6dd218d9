// The guest's NUMA request from the flavor's and image's properties or a sent topology (rules R1–R8), and
// the request errors with Nova's texts (rule R9), each one.
import {
  numaRequestFrom,
  parseCpuSpec,
  parsePageSize,
  pciNumaPolicyFrom,
  R9,
  type NumaRequestInput,
} from '../../../lib/domain';
import { ValidationError } from '../../../lib/errors';

const req = (extraSpecs: Record<string, string>, over: Partial<NumaRequestInput> = {}) =>
  numaRequestFrom({ vcpus: 4, memoryMb: 4096, extraSpecs, ...over });

/** The ValidationError a request raises, checked to be one. */
function errorOf(input: () => unknown): ValidationError {
  try {
    input();
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('no error');
}
const message = (f: () => unknown) => errorOf(f).message;

describe('rule R1: when a request topology exists', () => {
  it('is null without a node count, a page size or a pinned policy (nor for shared and no policy)', () => {
    expect(req({})).toBeNull();
    expect(req({ 'hw:cpu_policy': 'shared' })).toBeNull();
    expect(req({ 'hw:cpu_thread_policy': 'prefer', 'hw:cpu_policy': 'dedicated', other: 'x' })).not.toBeNull();
    expect(numaRequestFrom({ vcpus: 2, memoryMb: 512 })).toBeNull();
    // Manual cells alone make no request: Nova reads them only once a topology exists.
    expect(req({ 'hw:numa_cpus.0': '0-3' })).toBeNull();
  });

  it.each([
    [{ 'hw:numa_nodes': '1' }, undefined],
    [{ 'hw:mem_page_size': 'small' }, undefined],
    [{ 'hw:cpu_policy': 'dedicated' }, 'dedicated'],
    [{ 'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '0' }, 'mixed'],
  ])('exists for %j', (specs, policy) => {
    const r = req(specs);
    expect(r).not.toBeNull();
    expect(r?.cpuPolicy).toBe(policy);
  });
});

describe('rule R2: guest cells', () => {
  it('auto: vCPUs and memory split evenly, in order', () => {
    expect(req({ 'hw:numa_nodes': '2' })).toEqual({
      cells: [
        { id: 0, cpuset: [0, 1], pcpuset: [], memoryMb: 2048 },
        { id: 1, cpuset: [2, 3], pcpuset: [], memoryMb: 2048 },
      ],
    });
  });

  it('manual: example E3 (numa_cpus.0=0, numa_cpus.1=1-3, 1024 + 3072 MB)', () => {
    const r = req({
      'hw:numa_nodes': '2',
      'hw:numa_cpus.0': '0',
      'hw:numa_cpus.1': '1-3',
      'hw:numa_mem.0': '1024',
      'hw:numa_mem.1': '3072',
    });
    expect(r?.cells).toEqual([
      { id: 0, cpuset: [0], pcpuset: [], memoryMb: 1024 },
      { id: 1, cpuset: [1, 2, 3], pcpuset: [], memoryMb: 3072 },
    ]);
  });

  it('takes the node count and manual cells from the image when the flavor is silent', () => {
    const r = req(
      {},
      {
        imageProperties: {
          hw_numa_nodes: '2',
          'hw_numa_cpus.0': '0-2',
          'hw_numa_cpus.1': '3',
          'hw_numa_mem.0': '3072',
          'hw_numa_mem.1': '1024',
        },
      },
    );
    expect(r?.cells.map((c) => [c.cpuset, c.memoryMb])).toEqual([
      [[0, 1, 2], 3072],
      [[3], 1024],
    ]);
  });

  it('parses CPU specs as Nova does (ranges, exclusions, spaces, repeated commas)', () => {
    expect(parseCpuSpec('0-3, ^2,,5', 'k')).toEqual([0, 1, 3, 5]);
    expect(parseCpuSpec('^1-2,0-3', 'k')).toEqual([0, 3]);
    expect(message(() => parseCpuSpec('3-1', 'hw:numa_cpus.0'))).toBe(
      "Invalid range expression '3-1' in hw:numa_cpus.0",
    );
    expect(message(() => parseCpuSpec('x', 'k'))).toBe("Invalid inclusion expression 'x' in k");
    expect(message(() => parseCpuSpec('^y', 'k'))).toBe("Invalid exclusion expression '^y' in k");
  });
});

describe('rule R4: CPU policy', () => {
  it('dedicated: every vCPU in pcpuset', () => {
    expect(req({ 'hw:cpu_policy': 'dedicated' })?.cells).toEqual([
      { id: 0, cpuset: [], pcpuset: [0, 1, 2, 3], memoryMb: 4096 },
    ]);
  });

  it('mixed: example E7, hw:cpu_dedicated_mask=2-3 gives cpuset {0,1}, pcpuset {2,3}; ^0 excludes', () => {
    expect(req({ 'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '2-3' })?.cells[0]).toMatchObject({
      cpuset: [0, 1],
      pcpuset: [2, 3],
    });
    expect(req({ 'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0' })?.cells[0]).toMatchObject({
      cpuset: [0],
      pcpuset: [1, 2, 3],
    });
  });

  it('mixed splits the pinned vCPUs over manual cells', () => {
    const r = req({
      'hw:cpu_policy': 'mixed',
      'hw:cpu_dedicated_mask': '1,3',
      'hw:numa_nodes': '2',
    });
    expect(r?.cells.map((c) => [c.cpuset, c.pcpuset])).toEqual([
      [[0], [1]],
      [[2], [3]],
    ]);
  });

  it('the image chooses only when the flavor is silent, and may not loosen the flavor', () => {
    expect(req({}, { imageProperties: { hw_cpu_policy: 'dedicated' } })?.cpuPolicy).toBe('dedicated');
    expect(req({ 'hw:cpu_policy': 'dedicated' }, { imageProperties: { hw_cpu_policy: 'shared' } })?.cpuPolicy).toBe(
      'dedicated',
    );
    expect(message(() => req({ 'hw:cpu_policy': 'shared' }, { imageProperties: { hw_cpu_policy: 'dedicated' } }))).toBe(
      R9.imageCpuPolicy,
    );
    expect(
      message(() =>
        req(
          { 'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '0' },
          { imageProperties: { hw_cpu_policy: 'dedicated' } },
        ),
      ),
    ).toBe(R9.imageCpuPolicy);
  });

  it('resources:PCPU means dedicated, resources:VCPU shared; not with hw:cpu_policy, not both', () => {
    expect(req({ 'resources:PCPU': '4' })?.cpuPolicy).toBe('dedicated');
    expect(req({ 'resources:VCPU': '4' })).toBeNull();
    expect(message(() => req({ 'resources:PCPU': '4', 'hw:cpu_policy': 'dedicated' }))).toMatch(/use one or the other/);
    expect(message(() => req({ 'resources:PCPU': '4', 'resources:VCPU': '4' }))).toMatch(/use one or the other/);
  });

  it('refuses a value outside the policies, naming the key', () => {
    expect(message(() => req({ 'hw:cpu_policy': 'pinned' }))).toBe(
      "Invalid value 'pinned' for hw:cpu_policy: expected one of dedicated, shared, mixed",
    );
  });
});

describe('rule R5: thread policy', () => {
  it.each(['prefer', 'isolate', 'require'] as const)('%s is kept on a dedicated request', (p) => {
    expect(req({ 'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': p })?.cpuThreadPolicy).toBe(p);
  });

  it('the hyperthreading trait: forbidden is isolate, required is require; not with a thread policy', () => {
    const ded = { 'hw:cpu_policy': 'dedicated' };
    expect(req({ ...ded, 'trait:HW_CPU_HYPERTHREADING': 'forbidden' })?.cpuThreadPolicy).toBe('isolate');
    expect(req({ ...ded, 'trait:HW_CPU_HYPERTHREADING': 'required' })?.cpuThreadPolicy).toBe('require');
    expect(
      message(() => req({ ...ded, 'hw:cpu_thread_policy': 'prefer', 'trait:HW_CPU_HYPERTHREADING': 'required' })),
    ).toMatch(/use one or the other/);
  });

  it('the image chooses only when the flavor is silent (prefer is kept), and may not contradict isolate or require', () => {
    const ded = { 'hw:cpu_policy': 'dedicated' };
    expect(req(ded, { imageProperties: { hw_cpu_thread_policy: 'isolate' } })?.cpuThreadPolicy).toBe('isolate');
    expect(
      req({ ...ded, 'hw:cpu_thread_policy': 'prefer' }, { imageProperties: { hw_cpu_thread_policy: 'require' } })
        ?.cpuThreadPolicy,
    ).toBe('prefer');
    expect(
      message(() =>
        req({ ...ded, 'hw:cpu_thread_policy': 'isolate' }, { imageProperties: { hw_cpu_thread_policy: 'require' } }),
      ),
    ).toBe(R9.imageThreadPolicy);
  });
});

describe('rule R6: emulator threads', () => {
  it('isolate is kept on a pinned request; share on any', () => {
    expect(req({ 'hw:cpu_policy': 'dedicated', 'hw:emulator_threads_policy': 'isolate' })?.emulatorThreadsPolicy).toBe(
      'isolate',
    );
    expect(req({ 'hw:numa_nodes': '1', 'hw:emulator_threads_policy': 'share' })?.emulatorThreadsPolicy).toBe('share');
  });
});

describe('rule R7: page size', () => {
  it.each([
    ['small', 'small'],
    ['large', 'large'],
    ['any', 'any'],
    ['2048', 2048],
    ['2MB', 2048],
    ['2MiB', 2048],
    ['1GB', 1048576],
    ['4KB', 4],
    ['16Kbit', 2],
  ] as const)('%s is %j', (text, size) => {
    expect(parsePageSize(text)).toBe(size);
    expect(req({ 'hw:mem_page_size': text })?.cells[0]?.pagesize).toBe(size);
  });

  it('the image is honoured only when the flavor says any or large', () => {
    const img = (flavor: Record<string, string>, image: string) =>
      req(flavor, { imageProperties: { hw_mem_page_size: image } })?.cells[0]?.pagesize;
    expect(img({ 'hw:mem_page_size': 'any' }, '1GB')).toBe(1048576);
    expect(img({ 'hw:mem_page_size': 'large' }, 'small')).toBe('small');
    expect(message(() => img({ 'hw:mem_page_size': 'small' }, '2MB'))).toBe(R9.pageSizeForbidden('2MB', 'small'));
    expect(message(() => img({ 'hw:mem_page_size': '2048' }, '1GB'))).toBe("Page size 1GB forbidden against '2048'");
    expect(message(() => img({}, 'large'))).toBe("Page size large forbidden against '<empty>'");
  });
});

describe('rule R8: the NUMA policy of PCI requests', () => {
  it('comes from the flavor, else the image; they may not differ; only the four policies', () => {
    expect(pciNumaPolicyFrom({})).toBeUndefined();
    expect(pciNumaPolicyFrom({ extraSpecs: { 'hw:pci_numa_affinity_policy': 'required' } })).toBe('required');
    expect(pciNumaPolicyFrom({ imageProperties: { hw_pci_numa_affinity_policy: 'preferred' } })).toBe('preferred');
    expect(
      message(() =>
        pciNumaPolicyFrom({
          extraSpecs: { 'hw:pci_numa_affinity_policy': 'required' },
          imageProperties: { hw_pci_numa_affinity_policy: 'legacy' },
        }),
      ),
    ).toMatch(/not permitted to override/);
    expect(message(() => pciNumaPolicyFrom({ extraSpecs: { 'hw:pci_numa_affinity_policy': 'strict' } }))).toBe(
      'Invalid PCI NUMA affinity configured: strict',
    );
  });
});

describe('the instance topology as sent (rule R3)', () => {
  const topology = (cells: NonNullable<NumaRequestInput['topology']>['cells'], over = {}) =>
    numaRequestFrom({ vcpus: 4, memoryMb: 4096, topology: { cells, ...over } });

  it('becomes the request, the policy implied by the cells when not given', () => {
    expect(
      topology(
        [
          { id: 0, cpuset: [1, 0], pcpuset: [], memoryMb: 1024, pagesizeKb: 2048 },
          { id: 1, cpuset: [], pcpuset: [2, 3], memoryMb: 3072, pagesizeKb: 2048 },
        ],
        { emulatorThreadsPolicy: 'isolate' },
      ),
    ).toEqual({
      cells: [
        { id: 0, cpuset: [0, 1], pcpuset: [], memoryMb: 1024, pagesize: 2048 },
        { id: 1, cpuset: [], pcpuset: [2, 3], memoryMb: 3072, pagesize: 2048 },
      ],
      cpuPolicy: 'mixed',
      emulatorThreadsPolicy: 'isolate',
    });
  });

  it('is checked as manual cells are (Nova texts) and its policies as R4–R6 say', () => {
    const cell = { id: 0, cpuset: [0, 1, 2, 3], pcpuset: [], memoryMb: 4096 };
    expect(message(() => topology([{ ...cell, cpuset: [0, 1, 2, 4] }]))).toBe(R9.cpuOutOfRange(4, 3));
    expect(message(() => topology([{ ...cell, pcpuset: [3] }]))).toBe(R9.cpuDuplicates(3));
    expect(message(() => topology([{ ...cell, cpuset: [0] }]))).toBe(
      'CPU number {1, 2, 3} is not assigned to any node',
    );
    expect(message(() => topology([{ ...cell, memoryMb: 1 }]))).toBe('1 MB of memory assigned, but expected 4096 MB');
    expect(message(() => topology([{ ...cell, cpuThreadPolicy: 'isolate' }]))).toBe(R9.threadPolicyWithoutDedicated);
    expect(message(() => topology([cell], { emulatorThreadsPolicy: 'isolate' }))).toBe(
      R9.emulatorIsolateWithoutDedicated,
    );
    expect(message(() => topology([{ ...cell, cpuPolicy: 'dedicated' }]))).toMatch(/does not match/);
    expect(message(() => topology([{ ...cell, id: 3 }]))).toMatch(/numbered 0, 1/);
    expect(message(() => topology([]))).toMatch(/at least one cell/);
    expect(message(() => topology([{ ...cell, pagesizeKb: 0 }]))).toBe("Invalid memory page size '0'");
  });

  it('is refused together with hw: properties', () => {
    const e = errorOf(() =>
      numaRequestFrom({
        vcpus: 1,
        memoryMb: 1,
        extraSpecs: { 'hw:cpu_policy': 'dedicated', unrelated: 'x' },
        topology: { cells: [{ id: 0, cpuset: [0], pcpuset: [], memoryMb: 1 }] },
      }),
    );
    expect(e.message).toMatch(/not both \(hw:cpu_policy\)/);
  });
});

describe('rule R9: every request error, in Nova words', () => {
  const ded = { 'hw:cpu_policy': 'dedicated' };
  it.each<[string, () => unknown, string]>([
    [
      'CPUThreadPolicyConfigurationInvalid (example E19)',
      () => req({ 'hw:cpu_thread_policy': 'prefer' }),
      'Cannot set cpu thread pinning policy in a non dedicated cpu pinning policy',
    ],
    [
      'BadRequirementEmulatorThreadsPolicy',
      () => req({ 'hw:emulator_threads_policy': 'isolate' }),
      'An isolated CPU emulator threads option requires a dedicated CPU policy option.',
    ],
    [
      'ImageNUMATopologyAsymmetric (example E19)',
      () => req({ 'hw:numa_nodes': '3' }),
      'Instance CPUs and/or memory cannot be evenly distributed across instance NUMA nodes. Explicit assignment of CPUs and memory to nodes is required',
    ],
    [
      'ImageNUMATopologyAsymmetric, memory',
      () => req({ 'hw:numa_nodes': '4' }, { memoryMb: 4095 }),
      'Instance CPUs and/or memory cannot be evenly distributed across instance NUMA nodes. Explicit assignment of CPUs and memory to nodes is required',
    ],
    [
      'ImageNUMATopologyIncomplete, a cell missing',
      () => req({ 'hw:numa_nodes': '2', 'hw:numa_cpus.0': '0-3', 'hw:numa_mem.0': '4096' }),
      'CPU and memory allocation must be provided for all NUMA nodes',
    ],
    [
      'ImageNUMATopologyIncomplete, memory missing',
      () => req({ 'hw:numa_nodes': '1', 'hw:numa_cpus.0': '0-3' }),
      'CPU and memory allocation must be provided for all NUMA nodes',
    ],
    [
      'ImageNUMATopologyCPUOutOfRange',
      () =>
        req({
          'hw:numa_nodes': '2',
          'hw:numa_cpus.0': '0-1',
          'hw:numa_cpus.1': '2-4',
          'hw:numa_mem.0': '2048',
          'hw:numa_mem.1': '2048',
        }),
      'CPU number 4 is larger than max 3',
    ],
    [
      'ImageNUMATopologyCPUDuplicates',
      () =>
        req({
          'hw:numa_nodes': '2',
          'hw:numa_cpus.0': '0-2',
          'hw:numa_cpus.1': '2-3',
          'hw:numa_mem.0': '2048',
          'hw:numa_mem.1': '2048',
        }),
      'CPU number 2 is assigned to two nodes',
    ],
    [
      'ImageNUMATopologyCPUsUnassigned',
      () =>
        req({
          'hw:numa_nodes': '2',
          'hw:numa_cpus.0': '0',
          'hw:numa_cpus.1': '1',
          'hw:numa_mem.0': '2048',
          'hw:numa_mem.1': '2048',
        }),
      'CPU number {2, 3} is not assigned to any node',
    ],
    [
      'ImageNUMATopologyMemoryOutOfRange',
      () =>
        req({
          'hw:numa_nodes': '2',
          'hw:numa_cpus.0': '0-1',
          'hw:numa_cpus.1': '2-3',
          'hw:numa_mem.0': '2048',
          'hw:numa_mem.1': '1024',
        }),
      '3072 MB of memory assigned, but expected 4096 MB',
    ],
    [
      'InvalidNUMANodesNumber, 0',
      () => req({ 'hw:numa_nodes': '0' }),
      "The property 'numa_nodes' cannot be '0'. It must be a number greater than 0",
    ],
    [
      'InvalidNUMANodesNumber, not an int',
      () => req({ 'hw:numa_nodes': 'two' }),
      "The property 'numa_nodes' cannot be 'two'. It must be a number greater than 0",
    ],
    [
      'InvalidNUMANodesNumber, from the image',
      () => req({}, { imageProperties: { hw_numa_nodes: '-1' } }),
      "The property 'numa_nodes' cannot be '-1'. It must be a number greater than 0",
    ],
    ['MemoryPageSizeInvalid', () => req({ 'hw:mem_page_size': '2M' }), "Invalid memory page size '2M'"],
    ['MemoryPageSizeInvalid, zero', () => req({ 'hw:mem_page_size': '0' }), "Invalid memory page size '0'"],
    [
      'MemoryPageSizeForbidden',
      () => req({ 'hw:mem_page_size': 'small' }, { imageProperties: { hw_mem_page_size: 'large' } }),
      "Page size large forbidden against 'small'",
    ],
    [
      'RequiredMixedInstancePolicy, dedicated',
      () => req({ ...ded, 'hw:cpu_dedicated_mask': '0' }),
      "Cannot specify 'hw:cpu_dedicated_mask' without the 'mixed' policy.",
    ],
    [
      'RequiredMixedInstancePolicy, no policy',
      () => req({ 'hw:cpu_dedicated_mask': '0' }),
      "Cannot specify 'hw:cpu_dedicated_mask' without the 'mixed' policy.",
    ],
    [
      'InvalidMixedInstanceDedicatedMask, no mask',
      () => req({ 'hw:cpu_policy': 'mixed' }),
      "Mixed instance must have at least 1 pinned vCPU and 1 unpinned vCPU. See 'hw:cpu_dedicated_mask'.",
    ],
    [
      'InvalidMixedInstanceDedicatedMask, all pinned',
      () => req({ 'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '0-3' }),
      "Mixed instance must have at least 1 pinned vCPU and 1 unpinned vCPU. See 'hw:cpu_dedicated_mask'.",
    ],
    [
      'InvalidMixedInstanceDedicatedMask, none pinned',
      () => req({ 'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0-3' }),
      "Mixed instance must have at least 1 pinned vCPU and 1 unpinned vCPU. See 'hw:cpu_dedicated_mask'.",
    ],
  ])('%s', (_name, make, text) => {
    const e = errorOf(make);
    expect(e.message).toBe(text);
    expect(e.code).toBe('ValidationError');
    expect(e.details.issues).toEqual([expect.objectContaining({ message: text })]);
  });

  it('the flavor and the image may not both give the node count or the manual cells', () => {
    expect(message(() => req({ 'hw:numa_nodes': '1' }, { imageProperties: { hw_numa_nodes: '1' } }))).toBe(
      R9.imageNuma('hw_numa_nodes'),
    );
    expect(
      message(() =>
        req(
          { 'hw:numa_nodes': '1', 'hw:numa_cpus.0': '0-3', 'hw:numa_mem.0': '4096' },
          { imageProperties: { 'hw_numa_cpus.0': '0-3' } },
        ),
      ),
    ).toBe("Image property 'hw_numa_cpus' is not permitted to override NUMA configuration set against the flavor");
  });
});

import {
  fingerprint,
  GRID,
  onGrid,
  nodeLimits,
  planClaim,
  recordAmounts,
  statsDelta,
  refusalReasons,
  type Amounts,
  type ClaimRequest,
  type Inventory,
  type LimitOverrides,
} from '../../../lib/domain';
import { amounts, EMPTY_FLAVOR, F1, flavor, N0, request } from './fixtures';

describe('planning a claim', () => {
  test('the amounts are the instance usage, overhead included and volume-backed root left out', () => {
    const req = request({
      flavor: flavor({ rootGb: 10, swapMb: 512 }),
      volumeBacked: true,
      overhead: amounts(8, 1, 1),
    });
    expect(planClaim(req).amounts).toEqual(amounts(136, 1.5, 2));
  });

  test('the record holds the instance, its usage, state and request, at version 1 without PCI devices', () => {
    const req = request({ overhead: amounts(8, 0, 0), taskState: 'spawning' });
    expect(planClaim(req).record).toEqual({
      instanceUuid: 'I1',
      memoryMb: 136,
      diskGb: 1,
      vcpus: 1,
      pciDevices: [],
      vmState: 'active',
      taskState: 'spawning',
      osType: 'fake-os',
      projectId: 'fake-project',
      flavor: F1,
      volumeBacked: false,
      overhead: amounts(8, 0, 0),
      fingerprint: fingerprint(req),
      version: 1,
    });
  });

  test('the record leaves out the node, the limits and the PCI requests', () => {
    const record = planClaim(request({ limits: { vcpus: 1 }, pciRequests: [{ count: 1, spec: [] }] })).record;
    expect(record).not.toHaveProperty('nodeId');
    expect(record).not.toHaveProperty('limits');
    expect(record).not.toHaveProperty('pciRequests');
  });

  test('a new instance adds its stats keys (rule S6 counts them on read)', () => {
    expect(statsDelta(undefined, request({ projectId: null }), false)).toEqual({
      num_instances: 1,
      num_vm_active: 1,
      num_task_None: 1,
      'num_os_type_fake-os': 1,
      num_proj_None: 1,
    });
  });

  describe('guards', () => {
    const req = (limits: LimitOverrides) =>
      request({
        flavor: flavor({ vcpus: 2, memoryMb: 256, rootGb: 0, swapMb: 1536 }),
        overhead: amounts(8, 0, 0),
        limits,
      });

    test('without a limit override each resource keeps headroom of at least the request (the node limit applies)', () => {
      expect(planClaim(req({})).guards).toEqual({
        memoryMb: { kind: 'headroom', atLeast: 264 },
        diskGb: { kind: 'headroom', atLeast: 1.5 },
        vcpus: { kind: 'headroom', atLeast: 2 },
      });
    });

    test('an override L bounds used by L - requested', () => {
      expect(planClaim(req({ memoryMb: 1000, diskGb: 10, vcpus: 2 })).guards).toEqual({
        memoryMb: { kind: 'usedAtMost', value: 736 },
        diskGb: { kind: 'usedAtMost', value: 8.5 },
        vcpus: { kind: 'usedAtMost', value: 0 },
      });
    });

    test('an override smaller than the request gives a negative bound', () => {
      expect(planClaim(req({ memoryMb: 0 })).guards.memoryMb).toEqual({ kind: 'usedAtMost', value: -264 });
    });

    test('a null override takes the guard off', () => {
      expect(planClaim(req({ memoryMb: null, diskGb: null, vcpus: null })).guards).toEqual({
        memoryMb: { kind: 'none' },
        diskGb: { kind: 'none' },
        vcpus: { kind: 'none' },
      });
    });

    test('each resource is guarded by its own override', () => {
      expect(planClaim(req({ memoryMb: null, vcpus: 4 })).guards).toEqual({
        memoryMb: { kind: 'none' },
        diskGb: { kind: 'headroom', atLeast: 1.5 },
        vcpus: { kind: 'usedAtMost', value: 2 },
      });
    });
  });
});

describe('the fingerprint of a claim request', () => {
  const base = request({
    limits: { memoryMb: 1000, vcpus: null },
    pciRequests: [{ count: 1, spec: [{ vendor_id: '8086', product_id: '1520' }], aliasName: 'nic' }],
  });

  test('is the same for identical requests', () => {
    expect(fingerprint(structuredClone(base))).toBe(fingerprint(base));
  });

  test('is a 32-character base64url string', () => {
    expect(fingerprint(base)).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  test('does not depend on key order, at any depth (canonical JSON)', () => {
    const reordered: ClaimRequest = {
      limits: { vcpus: null, memoryMb: 1000 },
      pciRequests: [{ aliasName: 'nic', spec: [{ product_id: '1520', vendor_id: '8086' }], count: 1 }],
      overhead: { vcpus: 0, diskGb: 0, memoryMb: 0 },
      volumeBacked: false,
      flavor: { swapMb: 0, ephemeralGb: 0, rootGb: 1, memoryMb: 128, vcpus: 1 },
      projectId: 'fake-project',
      osType: 'fake-os',
      taskState: null,
      vmState: 'active',
      instanceUuid: 'I1',
    };
    expect(fingerprint(reordered)).toBe(fingerprint(base));
  });

  test('a key holding undefined is the same as an absent key', () => {
    expect(fingerprint({ ...base, limits: { ...base.limits, diskGb: undefined } })).toBe(fingerprint(base));
  });

  test('is the one in the planned record', () => {
    expect(planClaim(base).record.fingerprint).toBe(fingerprint(base));
  });

  test.each<[string, Partial<ClaimRequest>]>([
    ['instanceUuid', { instanceUuid: 'I2' }],
    ['vmState', { vmState: 'building' }],
    ['taskState', { taskState: 'spawning' }],
    ['taskState given as the string "None"', { taskState: 'None' }],
    ['osType', { osType: null }],
    ['projectId', { projectId: 'other' }],
    ['flavor.vcpus', { flavor: flavor({ vcpus: 2 }) }],
    ['flavor.memoryMb', { flavor: flavor({ memoryMb: 129 }) }],
    ['flavor.rootGb', { flavor: flavor({ rootGb: 2 }) }],
    ['flavor.ephemeralGb', { flavor: flavor({ ephemeralGb: 1 }) }],
    ['flavor.swapMb', { flavor: flavor({ swapMb: 1 }) }],
    ['volumeBacked', { volumeBacked: true }],
    ['overhead.memoryMb', { overhead: amounts(1, 0, 0) }],
    ['overhead.diskGb', { overhead: amounts(0, 1, 0) }],
    ['overhead.vcpus', { overhead: amounts(0, 0, 1) }],
    ['a limit value', { limits: { memoryMb: 1001, vcpus: null } }],
    ['a limit null instead of absent', { limits: { memoryMb: 1000, vcpus: null, diskGb: null } }],
    ['a limit absent instead of null', { limits: { memoryMb: 1000 } }],
    ['a limit 0 instead of null', { limits: { memoryMb: 1000, vcpus: 0 } }],
    ['the PCI requests left out', { pciRequests: [] }],
    [
      'the PCI count',
      { pciRequests: [{ count: 2, spec: [{ vendor_id: '8086', product_id: '1520' }], aliasName: 'nic' }] },
    ],
    [
      'the PCI spec',
      { pciRequests: [{ count: 1, spec: [{ vendor_id: '8086', product_id: '1521' }], aliasName: 'nic' }] },
    ],
    ['the PCI alias left out', { pciRequests: [{ count: 1, spec: [{ vendor_id: '8086', product_id: '1520' }] }] }],
  ])('differs when %s differs', (_, change) => {
    expect(fingerprint({ ...base, ...change })).not.toBe(fingerprint(base));
  });

  test('a number and the same digits as a string differ', () => {
    const asString = { ...base, flavor: { ...base.flavor, vcpus: '1' } } as unknown as ClaimRequest;
    expect(fingerprint(asString)).not.toBe(fingerprint(base));
  });

  test('the order of PCI requests matters (an array is a sequence)', () => {
    const a = { count: 1, spec: [] },
      b = { count: 2, spec: [] };
    expect(fingerprint(request({ pciRequests: [a, b] }))).not.toBe(fingerprint(request({ pciRequests: [b, a] })));
  });
});

describe('refusal reasons against a node', () => {
  test.each<[string, Inventory, Amounts, ClaimRequest, string[]]>([
    ['a claim that fits', N0, amounts(0, 0, 0), request(), []],
    ['a claim that takes exactly what is left', N0, amounts(640, 5, 63), request(), []],
    [
      'one resource over the node limit',
      N0,
      amounts(641, 0, 0),
      request(),
      ['Free memory 127.00 MB < requested 128 MB'],
    ],
    [
      'all three over, in order',
      N0,
      amounts(700, 5.5, 64),
      request(),
      [
        'Free memory 68.00 MB < requested 128 MB',
        'Free disk 0.50 GB < requested 1 GB',
        'Free vcpu 0.00 VCPU < requested 1 VCPU',
      ],
    ],
    [
      'a number override replaces the node limit',
      N0,
      amounts(0, 0, 0),
      request({ limits: { memoryMb: 100 } }),
      ['Free memory 100.00 MB < requested 128 MB'],
    ],
    [
      'a number override takes used off',
      N0,
      amounts(50, 0, 0),
      request({ limits: { memoryMb: 170 } }),
      ['Free memory 120.00 MB < requested 128 MB'],
    ],
    [
      'a null override switches the test off',
      N0,
      amounts(10_000, 100, 100),
      request({ limits: { memoryMb: null, diskGb: null, vcpus: null } }),
      [],
    ],
    [
      'a fractional swap request over 1 GB free',
      N0,
      amounts(0, 5, 0),
      request({ flavor: flavor({ rootGb: 0, swapMb: 1536 }) }),
      ['Free disk 1.00 GB < requested 1 GB'],
    ],
    [
      'an empty request after the inventory shrank',
      { ...N0, memoryMb: 256 },
      amounts(600, 0, 0),
      request({ flavor: EMPTY_FLAVOR }),
      ['Free memory -216.00 MB < requested 0 MB'],
    ],
    [
      'reserved counted in used, with ratios',
      { ...N0, reservedHostMemoryMb: 512 },
      amounts(512 + 200, 0, 0),
      request(),
      ['Free memory 56.00 MB < requested 128 MB'],
    ],
  ])('%s', (_, inv, used, req, expected) => {
    expect(refusalReasons(inv, used, req)).toEqual(expected);
  });

  test('PCI requests that cannot be met fail after the scalar reasons', () => {
    const req = request({ pciRequests: [{ count: 1, spec: [] }], limits: { vcpus: 0 } });
    expect(refusalReasons(N0, amounts(0, 0, 0), req, false)).toEqual([
      'Free vcpu 0.00 VCPU < requested 1 VCPU',
      'Claim pci failed',
    ]);
  });

  test('under a fractional override free is printed as the override minus used', () => {
    const req = request({ limits: { diskGb: 0.3 } });
    expect(refusalReasons(N0, amounts(0, 0.125, 0), req)).toEqual(['Free disk 0.17 GB < requested 1 GB']);
  });
});

describe('the store guards admit exactly what the claim test admits', () => {
  // Amounts are multiples of 1/1024; limits can be anything. Sweep used and requested across the boundary.
  const grid = (n: number) => n / GRID;
  const limits = [0.3, 0.5, 1.1 * 7, 6.6000000000000005, 2.0009765625, 1e6 / 3];
  const near = (x: number) =>
    Array.from({ length: 9 }, (_, i) => Math.floor(x * GRID) + i - 4)
      .filter((n) => n >= 0)
      .map(grid);

  test.each(limits)('under a request override of %p', (L) => {
    for (const requested of [0, grid(1), grid(512), 0.5, 1]) {
      for (const used of near(L - requested)) {
        const req = request({ flavor: EMPTY_FLAVOR, overhead: amounts(0, 0, 0), limits: { diskGb: L } });
        const plan = planClaim({
          ...req,
          flavor: flavor({ vcpus: 0, memoryMb: 0, rootGb: 0, swapMb: requested * 1024 }),
        });
        const guard = plan.guards.diskGb;
        if (guard.kind !== 'usedAtMost') throw new Error('expected a usedAtMost guard');
        const fits =
          refusalReasons(N0, amounts(0, used, 0), {
            ...req,
            flavor: flavor({ vcpus: 0, memoryMb: 0, rootGb: 0, swapMb: requested * 1024 }),
          }).length === 0;
        expect([L, requested, used, used <= guard.value]).toEqual([L, requested, used, fits]);
      }
    }
  });

  test.each([1.1, 1.3, 0.7])('under the node limit with a disk ratio of %p, kept as headroom on the grid', (ratio) => {
    const inv = { ...N0, localGb: 7, diskAllocationRatio: ratio };
    const L = nodeLimits(inv).diskGb;
    for (const requested of [0, grid(1), 1, 1.5]) {
      for (const used of near(L - requested)) {
        const req = request({ flavor: flavor({ vcpus: 0, memoryMb: 0, rootGb: 0, swapMb: requested * 1024 }) });
        const plan = planClaim(req);
        const headroom = onGrid(L) - used; // what the store keeps for the node's own limit
        const guard = plan.guards.diskGb;
        if (guard.kind !== 'headroom') throw new Error('expected a headroom guard');
        const fits = refusalReasons(inv, amounts(0, used, 0), req).length === 0;
        expect([ratio, requested, used, headroom >= guard.atLeast]).toEqual([ratio, requested, used, fits]);
      }
    }
  });

  test.each([
    ['exactly L - requested', 2, true],
    ['one over L - requested', 3, false],
  ])('with whole numbers, used %s', (_, usedVcpus, fits) => {
    const req = request({ flavor: flavor({ vcpus: 2 }), limits: { vcpus: 4 } });
    const guard = planClaim(req).guards.vcpus;
    expect(guard.kind === 'usedAtMost' && usedVcpus <= guard.value).toBe(fits);
    expect(refusalReasons(N0, amounts(0, 0, usedVcpus), req).length === 0).toBe(fits);
  });
});

describe('the amounts of an instance record', () => {
  test('are its memory, disk and vcpus, nothing else', () => {
    const record = planClaim(request({ flavor: flavor({ swapMb: 512 }) })).record;
    expect(recordAmounts(record)).toEqual(amounts(128, 1.5, 1));
    expect(recordAmounts({ memoryMb: 3, diskGb: 2, vcpus: 1, extra: 9 } as Amounts)).toEqual(amounts(3, 2, 1));
  });
});

import {
  claimReasons,
  effectiveLimits,
  exceeds,
  formatFixed2,
  onGrid,
  refusalMessage,
  refusalReasons,
  type ClaimLimits,
  type LimitOverrides,
} from '../../../lib/domain';
import { amounts, EMPTY_FLAVOR, flavor, inventory, N0, request } from './fixtures';

// With nothing used, the limit is what is free: these tables speak of free amounts.
const free = (memoryMb: number | null, diskGb: number | null, vcpus: number | null): ClaimLimits => ({
  memoryMb,
  diskGb,
  vcpus,
});
const NOTHING_USED = amounts(0, 0, 0);

describe('limits of a claim', () => {
  const node = amounts(768, 6, 64);

  test.each<[string, LimitOverrides, ReturnType<typeof effectiveLimits>]>([
    ['without overrides the node limits apply', {}, { memoryMb: 768, diskGb: 6, vcpus: 64 }],
    [
      'a number replaces the node limit of that resource only',
      { memoryMb: 100 },
      { memoryMb: 100, diskGb: 6, vcpus: 64 },
    ],
    ['an override of 0 is a limit of 0, not absent', { diskGb: 0 }, { memoryMb: 768, diskGb: 0, vcpus: 64 }],
    ['an override may be above the node limit', { vcpus: 1000 }, { memoryMb: 768, diskGb: 6, vcpus: 1000 }],
    ['null switches the test of that resource off', { vcpus: null }, { memoryMb: 768, diskGb: 6, vcpus: null }],
    [
      'an explicitly undefined override keeps the node limit',
      { memoryMb: undefined },
      { memoryMb: 768, diskGb: 6, vcpus: 64 },
    ],
    [
      'every resource may be overridden at once',
      { memoryMb: 1, diskGb: null, vcpus: 2 },
      { memoryMb: 1, diskGb: null, vcpus: 2 },
    ],
  ])('%s', (_, overrides, expected) => {
    expect(effectiveLimits(node, overrides)).toEqual(expected);
  });

  test('the overrides argument is optional', () => {
    expect(effectiveLimits(node)).toEqual({ memoryMb: 768, diskGb: 6, vcpus: 64 });
  });
});

describe('free is limit minus used, reserved included', () => {
  test.each([
    [
      'each resource separately',
      { memoryMb: 768, diskGb: 6, vcpus: 64 },
      amounts(640, 1.5, 3),
      amounts(129, 4.75, 62),
      [
        'Free memory 128.00 MB < requested 129 MB',
        'Free disk 4.50 GB < requested 4 GB',
        'Free vcpu 61.00 VCPU < requested 62 VCPU',
      ],
    ],
    [
      'free may be negative',
      { memoryMb: 100, diskGb: 1, vcpus: 1 },
      amounts(200, 2, 4),
      amounts(0, 0, 0),
      [
        'Free memory -100.00 MB < requested 0 MB',
        'Free disk -1.00 GB < requested 0 GB',
        'Free vcpu -3.00 VCPU < requested 0 VCPU',
      ],
    ],
    [
      'an untested resource is never reported',
      { memoryMb: null, diskGb: 6, vcpus: null },
      amounts(1, 1, 1),
      amounts(1e9, 6, 1e9),
      ['Free disk 5.00 GB < requested 6 GB'],
    ],
  ])('%s', (_, limits, used, requested, expected) => {
    expect(claimReasons(limits, used, requested)).toEqual(expected);
  });

  test('the test is exact where limit - used would round: requested + used against the limit', () => {
    // 0.5 - 0.375 is exact, but 0.3 - 0.125 is not; on the 1/1024 grid requested + used never rounds.
    expect(exceeds(0.5, 0.375, 0.125)).toBe(false);
    expect(exceeds(0.5, 0.375, 0.125 + 1 / 1024)).toBe(true);
    expect(exceeds(0.3, 0.125, 0.1748046875)).toBe(false);
    expect(exceeds(0.3, 0.125, 0.17578125)).toBe(true);
    expect(exceeds(null, 1e9, 1e9)).toBe(false);
  });

  test.each([
    [0.3, 0.2998046875],
    [6.6000000000000005, 6.599609375],
    [768, 768],
    [0, 0],
    [1 / 1024, 1 / 1024],
  ])('a limit of %p rounds down to %p on the 1/1024 grid', (limit, expected) => {
    expect(onGrid(limit)).toBe(expected);
  });
});

describe('the claim test fails a resource iff requested > free', () => {
  test.each([
    ['a request below free passes', free(128, 6, 64), amounts(127, 5, 63), []],
    ['a request equal to free passes (the last unit can be taken)', free(128, 6, 64), amounts(128, 6, 64), []],
    ['a fractional request equal to fractional free passes', free(128, 1.5, 64), amounts(1, 1.5, 1), []],
    [
      'one MB over free memory fails',
      free(128, 6, 64),
      amounts(129, 0, 0),
      ['Free memory 128.00 MB < requested 129 MB'],
    ],
    ['one GB over free disk fails', free(128, 6, 64), amounts(0, 7, 0), ['Free disk 6.00 GB < requested 7 GB']],
    [
      'one vcpu over free vcpus fails',
      free(128, 6, 64),
      amounts(0, 0, 65),
      ['Free vcpu 64.00 VCPU < requested 65 VCPU'],
    ],
    ['an untested resource never fails', free(null, null, null), amounts(1e9, 1e9, 1e9), []],
    [
      'zero is not untested',
      free(0, 0, 0),
      amounts(1, 1, 1),
      [
        'Free memory 0.00 MB < requested 1 MB',
        'Free disk 0.00 GB < requested 1 GB',
        'Free vcpu 0.00 VCPU < requested 1 VCPU',
      ],
    ],
    [
      'a request of nothing fails when free is negative',
      free(-1, -0.5, -2),
      amounts(0, 0, 0),
      [
        'Free memory -1.00 MB < requested 0 MB',
        'Free disk -0.50 GB < requested 0 GB',
        'Free vcpu -2.00 VCPU < requested 0 VCPU',
      ],
    ],
    ['a request of nothing passes when free is exactly zero', free(0, 0, 0), amounts(0, 0, 0), []],
  ])('%s', (_, f, requested, expected) => {
    expect(claimReasons(f, NOTHING_USED, requested)).toEqual(expected);
  });
});

describe('wording of the reasons', () => {
  test.each([
    [0.125, '0.12'],
    [0.375, '0.38'],
    [0.625, '0.62'],
    [0.875, '0.88'],
    [2.125, '2.12'],
    [-0.125, '-0.12'],
    [0.876953125, '0.88'],
    [0.3 - 0.125, '0.17'],
    [769.5, '769.50'],
    [-12.25, '-12.25'],
    [0, '0.00'],
  ])("free %p prints as Python's %%.2f does: %s", (x, expected) => {
    expect(formatFixed2(x)).toBe(expected);
  });

  test.each([
    [
      'free is printed with two decimals',
      free(769.5, null, null),
      amounts(1000, 0, 0),
      'Free memory 769.50 MB < requested 1000 MB',
    ],
    [
      'free rounds to two decimals',
      free(null, 0.876953125, null),
      amounts(0, 1, 0),
      'Free disk 0.88 GB < requested 1 GB',
    ],
    [
      'negative free keeps its sign',
      free(null, null, -12.25),
      amounts(0, 0, 1),
      'Free vcpu -12.25 VCPU < requested 1 VCPU',
    ],
    [
      'a fractional request is truncated, not rounded (1.5 GB prints as 1)',
      free(null, 1, null),
      amounts(0, 1.5, 0),
      'Free disk 1.00 GB < requested 1 GB',
    ],
    [
      'a request just under 2 still prints 1',
      free(null, 1, null),
      amounts(0, 1.999, 0),
      'Free disk 1.00 GB < requested 1 GB',
    ],
    ['a request below 1 prints 0', free(null, 0.25, null), amounts(0, 0.5, 0), 'Free disk 0.25 GB < requested 0 GB'],
  ])('%s', (_, f, requested, expected) => {
    expect(claimReasons(f, NOTHING_USED, requested)).toEqual([expected]);
  });

  test('several failures are reported in the order memory, disk, vcpu', () => {
    expect(claimReasons(free(1, 2, 3), NOTHING_USED, amounts(10, 20, 30))).toEqual([
      'Free memory 1.00 MB < requested 10 MB',
      'Free disk 2.00 GB < requested 20 GB',
      'Free vcpu 3.00 VCPU < requested 30 VCPU',
    ]);
  });

  test('only the failing resources are reported, the passing ones are skipped', () => {
    expect(claimReasons(free(1, 100, 3), NOTHING_USED, amounts(10, 20, 30))).toEqual([
      'Free memory 1.00 MB < requested 10 MB',
      'Free vcpu 3.00 VCPU < requested 30 VCPU',
    ]);
  });

  test.each([
    [
      'one reason',
      ['Free memory 0.00 MB < requested 128 MB'],
      'Insufficient compute resources: Free memory 0.00 MB < requested 128 MB.',
    ],
    [
      'several reasons are joined with "; "',
      ['Free memory 1.00 MB < requested 10 MB', 'Free vcpu 3.00 VCPU < requested 30 VCPU'],
      'Insufficient compute resources: Free memory 1.00 MB < requested 10 MB; Free vcpu 3.00 VCPU < requested 30 VCPU.',
    ],
    ['the PCI reason', ['Claim pci failed'], 'Insufficient compute resources: Claim pci failed.'],
  ])('the refusal message with %s', (_, reasons, expected) => {
    expect(refusalMessage(reasons)).toBe(expected);
  });
});

describe('Nova claim test against a node', () => {
  const refusal = (...args: Parameters<typeof refusalReasons>) => refusalMessage(refusalReasons(...args));

  test.each([
    ['memory', { memoryMb: 0 }, 'Insufficient compute resources: Free memory 0.00 MB < requested 128 MB.'],
    ['disk', { diskGb: 0 }, 'Insufficient compute resources: Free disk 0.00 GB < requested 1 GB.'],
    ['vcpu', { vcpus: 0 }, 'Insufficient compute resources: Free vcpu 0.00 VCPU < requested 1 VCPU.'],
  ])('example 6: F1 on N0 with a %s limit of 0 is refused for that resource alone', (_, limits, message) => {
    expect(refusal(N0, amounts(0, 0, 0), request({ limits }))).toBe(message);
  });

  describe('example 7: memory overhead counts toward the request', () => {
    const node = inventory({ vcpus: 2, memoryMb: 2048, localGb: 20, ramAllocationRatio: 1, reservedHostMemoryMb: 0 });
    const req = (overheadMb: number) =>
      request({ flavor: flavor({ memoryMb: 2040 }), overhead: amounts(overheadMb, 0, 0) });

    test('2040 MB plus 8 MB overhead takes exactly the 2048 MB free and fits', () => {
      expect(refusalReasons(node, amounts(0, 0, 0), req(8))).toEqual([]);
    });

    test('2040 MB plus 9 MB overhead is one MB too many', () => {
      expect(refusal(node, amounts(0, 0, 0), req(9))).toBe(
        'Insufficient compute resources: Free memory 2048.00 MB < requested 2049 MB.',
      );
    });
  });

  test('the node limit includes the allocation ratio: 768 MB on N0 fits, 769 does not', () => {
    expect(refusalReasons(N0, amounts(0, 0, 0), request({ flavor: flavor({ memoryMb: 768 }) }))).toEqual([]);
    expect(refusalReasons(N0, amounts(0, 0, 0), request({ flavor: flavor({ memoryMb: 769 }) }))).toEqual([
      'Free memory 768.00 MB < requested 769 MB',
    ]);
  });

  test('used, reserved included, is taken off the limit', () => {
    const used = amounts(512 + 200, 5, 63);
    expect(refusalReasons(N0, used, request({ flavor: flavor({ vcpus: 2, memoryMb: 57, rootGb: 2 }) }))).toEqual([
      'Free memory 56.00 MB < requested 57 MB',
      'Free disk 1.00 GB < requested 2 GB',
      'Free vcpu 1.00 VCPU < requested 2 VCPU',
    ]);
  });

  test('all three resources failing at once give one message in the order memory, disk, vcpu', () => {
    const big = request({ flavor: { vcpus: 65, memoryMb: 1024, rootGb: 7, ephemeralGb: 0, swapMb: 0 } });
    expect(refusal(N0, amounts(0, 0, 0), big)).toBe(
      'Insufficient compute resources: Free memory 768.00 MB < requested 1024 MB; ' +
        'Free disk 6.00 GB < requested 7 GB; Free vcpu 64.00 VCPU < requested 65 VCPU.',
    );
  });

  test('a fractional disk request (1.5 GB of swap) over 1 GB free fails and prints requested 1 GB', () => {
    const swap = request({ flavor: flavor({ rootGb: 0, swapMb: 1536 }), limits: { diskGb: 1 } });
    expect(refusal(N0, amounts(0, 0, 0), swap)).toBe(
      'Insufficient compute resources: Free disk 1.00 GB < requested 1 GB.',
    );
  });

  test('a fractional disk request exactly equal to the fractional free disk fits', () => {
    expect(refusalReasons(N0, amounts(0, 4.5, 0), request({ flavor: flavor({ rootGb: 1, swapMb: 512 }) }))).toEqual([]);
  });

  test('a volume-backed root disk is not tested against local disk', () => {
    const big = flavor({ rootGb: 100 });
    expect(refusalReasons(N0, amounts(0, 0, 0), request({ flavor: big, volumeBacked: true }))).toEqual([]);
    expect(refusalReasons(N0, amounts(0, 0, 0), request({ flavor: big, volumeBacked: false }))).toEqual([
      'Free disk 6.00 GB < requested 100 GB',
    ]);
  });

  test('a request of nothing fails when the inventory shrank below what is used (negative free)', () => {
    const shrunk = { ...N0, memoryMb: 256, localGb: 2 };
    expect(refusal(shrunk, amounts(600, 3, 1), request({ flavor: EMPTY_FLAVOR }))).toBe(
      'Insufficient compute resources: Free memory -216.00 MB < requested 0 MB; Free disk -1.00 GB < requested 0 GB.',
    );
  });

  describe('limit overrides of the request', () => {
    test.each<[string, LimitOverrides, string[]]>([
      ['absent: the node limit applies and refuses', {}, ['Free memory 768.00 MB < requested 1000 MB']],
      ['a number above the node limit lets the claim through', { memoryMb: 1000 }, []],
      [
        'a number one below the request refuses it against that number',
        { memoryMb: 999 },
        ['Free memory 999.00 MB < requested 1000 MB'],
      ],
      ['null switches the memory test off', { memoryMb: null }, []],
      [
        'an override of another resource keeps the node memory limit',
        { vcpus: null },
        ['Free memory 768.00 MB < requested 1000 MB'],
      ],
    ])('%s', (_, limits, expected) => {
      expect(refusalReasons(N0, amounts(0, 0, 0), request({ flavor: flavor({ memoryMb: 1000 }), limits }))).toEqual(
        expected,
      );
    });

    test('an override is a limit, so used (reserved included) is still taken off it', () => {
      const req = request({ limits: { vcpus: 2 }, flavor: flavor({ vcpus: 2 }) });
      expect(refusalReasons(N0, amounts(0, 0, 1), req)).toEqual(['Free vcpu 1.00 VCPU < requested 2 VCPU']);
    });

    test('an override below the node limit refuses what the node would take', () => {
      expect(refusalReasons(N0, amounts(0, 0, 0), request())).toEqual([]);
      expect(refusalReasons(N0, amounts(0, 0, 0), request({ limits: { vcpus: 0.5 } }))).toEqual([
        'Free vcpu 0.50 VCPU < requested 1 VCPU',
      ]);
    });
  });

  describe('when the PCI requests cannot be met', () => {
    const pci = [{ count: 1, spec: [{ vendorId: '8086', productId: '1520' }], aliasName: 'nic' }];
    const refusedPci = (req: ReturnType<typeof request>) =>
      refusalMessage(refusalReasons(N0, amounts(0, 0, 0), req, false));

    test('a request that fits otherwise is refused with "Claim pci failed" alone', () => {
      expect(refusedPci(request({ pciRequests: pci }))).toBe('Insufficient compute resources: Claim pci failed.');
    });

    test('the PCI reason comes after the scalar reasons', () => {
      expect(refusedPci(request({ pciRequests: pci, limits: { memoryMb: 0, vcpus: 0 } }))).toBe(
        'Insufficient compute resources: Free memory 0.00 MB < requested 128 MB; ' +
          'Free vcpu 0.00 VCPU < requested 1 VCPU; Claim pci failed.',
      );
    });

    test('when the devices fit, PCI requests add no reason', () => {
      expect(refusalReasons(N0, amounts(0, 0, 0), request({ pciRequests: [...pci, { count: 2, spec: [] }] }))).toEqual(
        [],
      );
    });

    test('an empty list of PCI requests is no PCI request', () => {
      expect(refusalReasons(N0, amounts(0, 0, 0), request({ pciRequests: [] }))).toEqual([]);
    });
  });
});

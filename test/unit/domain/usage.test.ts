import { instanceUsage, ZERO } from '../../../lib/domain';
import { amounts, F1, flavor } from './fixtures';

describe('usage of an instance', () => {
  test.each([
    ['F1 without overhead takes its memory, root disk and vcpus', flavor(), ZERO, false, amounts(128, 1, 1)],
    [
      'memory is the flavor memory plus the overhead memory',
      flavor({ memoryMb: 2040 }),
      amounts(8, 0, 0),
      false,
      amounts(2048, 1, 1),
    ],
    [
      'vcpus are the flavor vcpus plus the overhead vcpus',
      flavor({ vcpus: 2 }),
      amounts(0, 0, 1),
      false,
      amounts(128, 1, 3),
    ],
    [
      'disk adds root, ephemeral and the overhead disk',
      flavor({ rootGb: 5, ephemeralGb: 3 }),
      amounts(0, 2, 0),
      false,
      amounts(128, 10, 1),
    ],
    ['swap counts as disk, 1024 MB a GB', flavor({ rootGb: 0, swapMb: 2048 }), ZERO, false, amounts(128, 2, 1)],
    [
      '512 MB of swap is exactly half a GB, not floored',
      flavor({ rootGb: 0, swapMb: 512 }),
      ZERO,
      false,
      amounts(128, 0.5, 1),
    ],
    ['1536 MB of swap is exactly 1.5 GB', flavor({ rootGb: 0, swapMb: 1536 }), ZERO, false, amounts(128, 1.5, 1)],
    ['1 MB of swap is 1/1024 GB', flavor({ rootGb: 0, swapMb: 1 }), ZERO, false, amounts(128, 1 / 1024, 1)],
    ['a volume-backed root disk takes no local disk', flavor({ rootGb: 20 }), ZERO, true, amounts(128, 0, 1)],
    [
      'a volume-backed instance still takes its ephemeral disk, swap and overhead disk',
      flavor({ rootGb: 20, ephemeralGb: 2, swapMb: 512 }),
      amounts(0, 1, 0),
      true,
      amounts(128, 3.5, 1),
    ],
    [
      'an empty flavor with overhead takes just the overhead',
      flavor({ vcpus: 0, memoryMb: 0, rootGb: 0 }),
      amounts(9, 1, 1),
      false,
      amounts(9, 1, 1),
    ],
  ])('%s', (_, f, overhead, volumeBacked, expected) => {
    expect(instanceUsage(f, overhead, volumeBacked)).toEqual(expected);
  });

  test('many fractional swaps add up exactly', () => {
    const one = instanceUsage(flavor({ rootGb: 0, swapMb: 384 }), ZERO, false).diskGb;
    let total = 0;
    for (let i = 0; i < 1024; i++) total += one;
    expect(total).toBe(384);
  });

  test('the flavor is not changed', () => {
    const f = { ...F1 };
    instanceUsage(f, amounts(1, 1, 1), true);
    expect(f).toEqual(F1);
  });
});

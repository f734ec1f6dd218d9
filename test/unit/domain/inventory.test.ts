import { add, INVENTORY_DEFAULTS, nodeLimits, RESOURCES, reserved, scale, ZERO } from '../../../lib/domain';
import { amounts, inventory, N0 } from './fixtures';

describe('Nova inventory defaults', () => {
  test.each([
    ['cpuAllocationRatio', 16],
    ['ramAllocationRatio', 1.5],
    ['diskAllocationRatio', 1],
    ['reservedHostMemoryMb', 512],
    ['reservedHostDiskMb', 0],
    ['reservedHostCpus', 0],
  ] as const)('%s defaults to %d', (field, value) => {
    expect(INVENTORY_DEFAULTS[field]).toBe(value);
  });

  test('there are no other defaults', () => {
    expect(Object.keys(INVENTORY_DEFAULTS).sort()).toEqual([
      'cpuAllocationRatio',
      'diskAllocationRatio',
      'ramAllocationRatio',
      'reservedHostCpus',
      'reservedHostDiskMb',
      'reservedHostMemoryMb',
    ]);
  });

  test('a node with the defaults starts with 512 MB of memory used and nothing else', () => {
    expect(reserved(inventory({}))).toEqual(amounts(512, 0, 0));
  });
});

describe('reserved resources count as used', () => {
  test.each([
    ['memory is reservedHostMemoryMb as is', { reservedHostMemoryMb: 777 }, amounts(777, 0, 0)],
    ['vcpus are reservedHostCpus as is', { reservedHostCpus: 3 }, amounts(0, 0, 3)],
    ['disk of exactly 1024 MB reserves 1 GB', { reservedHostDiskMb: 1024 }, amounts(0, 1, 0)],
    ['disk of 1536 MB is floored to 1 GB', { reservedHostDiskMb: 1536 }, amounts(0, 1, 0)],
    ['disk of 1023 MB is floored to 0 GB', { reservedHostDiskMb: 1023 }, amounts(0, 0, 0)],
    ['disk of 3071 MB is floored to 2 GB', { reservedHostDiskMb: 3071 }, amounts(0, 2, 0)],
    [
      'all three together',
      { reservedHostMemoryMb: 512, reservedHostDiskMb: 2048, reservedHostCpus: 1 },
      amounts(512, 2, 1),
    ],
  ])('%s', (_, over, expected) => {
    expect(reserved({ ...N0, ...over })).toEqual(expected);
  });

  test('the size of the node does not change what is reserved', () => {
    expect(reserved({ ...N0, memoryMb: 1, localGb: 1, vcpus: 1, reservedHostMemoryMb: 64 })).toEqual(amounts(64, 0, 0));
  });
});

describe('node limits are size times allocation ratio', () => {
  test.each([
    ['N0 with ratios 16 / 1.5 / 1', N0, amounts(768, 6, 64)],
    ['ratios of 1 give the raw size', { ...N0, cpuAllocationRatio: 1, ramAllocationRatio: 1 }, amounts(512, 6, 4)],
    ['a disk ratio above 1 overcommits disk', { ...N0, diskAllocationRatio: 2.5 }, amounts(768, 15, 64)],
    [
      'ratios below 1 undercommit',
      { ...N0, cpuAllocationRatio: 0.5, ramAllocationRatio: 0.5, diskAllocationRatio: 0.5 },
      amounts(256, 3, 2),
    ],
    [
      'reserved amounts do not lower the limits',
      { ...N0, reservedHostMemoryMb: 512, reservedHostDiskMb: 4096, reservedHostCpus: 2 },
      amounts(768, 6, 64),
    ],
  ])('%s', (_, inv, expected) => {
    expect(nodeLimits(inv)).toEqual(expected);
  });
});

describe('resource amounts', () => {
  test('resources are reported in the order memory, disk, vcpu', () => {
    expect([...RESOURCES]).toEqual(['memoryMb', 'diskGb', 'vcpus']);
  });

  test('ZERO is nothing of each resource', () => {
    expect(ZERO).toEqual(amounts(0, 0, 0));
  });

  test('add sums each resource separately', () => {
    expect(add(amounts(1, 2.5, 3), amounts(10, 0.25, 30))).toEqual(amounts(11, 2.75, 33));
  });

  test('scale multiplies each resource by the sign', () => {
    expect(scale(amounts(128, 1.5, 2), -1)).toEqual(amounts(-128, -1.5, -2));
    expect(scale(amounts(128, 1.5, 2), 2)).toEqual(amounts(256, 3, 4));
  });

  test('adding an amount scaled by -1 gives back what was there', () => {
    const used = amounts(640, 3.5, 5);
    expect(add(add(used, amounts(128, 1.5, 1)), scale(amounts(128, 1.5, 1), -1))).toEqual(used);
  });
});

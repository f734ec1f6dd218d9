// The audit's recount of a node from what it tracks, the drift it reports, and the comparison with the
// instances the hypervisor runs.
import {
  add,
  compareWithHypervisor,
  drift,
  planClaim,
  recount,
  ZERO,
  type Amounts,
  type InstanceState,
  type Orphan,
} from '../../../lib/domain';
import { amounts, flavor, inventory, Ledger, N0, request, state } from './fixtures';

type Instance = Amounts & InstanceState;

const instance = (usage: Amounts, over: Partial<InstanceState> = {}): Instance => ({ ...usage, ...state(over) });
const orphan = (instanceUuid: string, memoryMb: number): Orphan => ({ instanceUuid, memoryMb });

/** N0 reserves nothing: what it shows used is what it tracks. */
const usedOn = (instances: Instance[], holds: Amounts[] = [], orphans: Orphan[] = []) =>
  recount(N0, instances, holds, orphans).used;

describe('recount: the usage a node should show', () => {
  test('a node that tracks nothing shows what the host reserves, no stats and nothing tracked', () => {
    const inv = inventory({ reservedHostMemoryMb: 300, reservedHostDiskMb: 2048, reservedHostCpus: 2 });
    expect(recount(inv, [], [], [])).toEqual({
      claimed: ZERO,
      used: amounts(300, 2, 2),
      stats: {},
      tracked: 0,
      orphanMemoryMb: 0,
    });
  });

  test.each([
    ['memory is reservedHostMemoryMb', { reservedHostMemoryMb: 777 }, amounts(777, 0, 0)],
    [
      'disk is reservedHostDiskMb in whole GB, floored (1536 MB is 1 GB)',
      { reservedHostDiskMb: 1536 },
      amounts(0, 1, 0),
    ],
    ['disk below 1 GB reserves nothing', { reservedHostDiskMb: 1023 }, amounts(0, 0, 0)],
    ['vcpus are reservedHostCpus', { reservedHostCpus: 3 }, amounts(0, 0, 3)],
  ])('the reserved baseline: %s', (_, over, expected) => {
    const r = recount({ ...N0, ...over }, [instance(amounts(128, 1, 1))], [], []);
    expect(r.used).toEqual(add(expected, amounts(128, 1, 1)));
    expect(r.claimed).toEqual(amounts(128, 1, 1));
  });

  test('every instance adds its memory, disk and vcpus', () => {
    expect(usedOn([instance(amounts(128, 1, 1)), instance(amounts(256, 2.5, 4))])).toEqual(amounts(384, 3.5, 5));
  });

  test('every move hold adds its memory, disk and vcpus', () => {
    expect(usedOn([], [amounts(64, 1, 1), amounts(32, 2, 3)])).toEqual(amounts(96, 3, 4));
  });

  test('orphans add their memory only', () => {
    const r = recount(N0, [], [], [orphan('O1', 100), orphan('O2', 28)]);
    expect(r.used).toEqual(amounts(128, 0, 0));
    expect(r.orphanMemoryMb).toBe(128);
  });

  test('an orphan listed twice counts once, with the larger memory', () => {
    expect(usedOn([], [], [orphan('O1', 64), orphan('O1', 100), orphan('O1', 64)])).toEqual(amounts(100, 0, 0));
  });

  test('an orphan the node tracks (an instance or a hold) is not counted again', () => {
    const r = recount(
      N0,
      [{ ...instance(amounts(128, 1, 1)), instanceUuid: 'I1' }],
      [{ ...amounts(64, 1, 1), instanceUuid: 'I2' }],
      [orphan('I1', 128), orphan('I2', 64), orphan('O1', 32)],
    );
    expect(r.orphanMemoryMb).toBe(32);
    expect(r.used).toEqual(amounts(224, 2, 2));
  });

  test('reserved, instances, holds and orphans add up', () => {
    const inv = { ...N0, reservedHostMemoryMb: 512, reservedHostDiskMb: 1024, reservedHostCpus: 1 };
    const r = recount(inv, [instance(amounts(128, 1, 1))], [amounts(256, 5, 2)], [orphan('O1', 64)]);
    expect(r.claimed).toEqual(amounts(448, 6, 3));
    expect(r.used).toEqual(amounts(960, 7, 4));
  });

  test('tracked counts the instances and the holds, not the orphans', () => {
    const r = recount(N0, [instance(ZERO), instance(ZERO)], [ZERO, ZERO, ZERO], [orphan('O1', 1)]);
    expect(r.tracked).toBe(5);
  });

  test('the figures passed in are not changed', () => {
    const instances = [instance(amounts(128, 1, 1))];
    const holds = [amounts(1, 1, 1)];
    const copy = structuredClone({ instances, holds });
    recount(N0, instances, holds, [orphan('O1', 5)]);
    expect({ instances, holds }).toEqual(copy);
  });
});

describe('recount: stats are rebuilt from the instances as if each were newly tracked', () => {
  test('one instance: num_instances and its vm, task, os type and project keys', () => {
    expect(
      recount(N0, [instance(ZERO, { taskState: 'spawning', osType: 'linux', projectId: 'p1' })], [], []).stats,
    ).toEqual({
      num_instances: 1,
      num_vm_active: 1,
      num_task_spawning: 1,
      num_os_type_linux: 1,
      num_proj_p1: 1,
    });
  });

  test('a null task state, os type or project counts under None', () => {
    expect(recount(N0, [instance(ZERO, { vmState: 'building', osType: null, projectId: null })], [], []).stats).toEqual(
      {
        num_instances: 1,
        num_vm_building: 1,
        num_task_None: 1,
        num_os_type_None: 1,
        num_proj_None: 1,
      },
    );
  });

  test('instances sharing a key add up on it', () => {
    const stats = recount(
      N0,
      [
        instance(ZERO),
        instance(ZERO, { vmState: 'paused', projectId: 'p2' }),
        instance(ZERO, { taskState: 'rebuilding' }),
      ],
      [],
      [],
    ).stats;
    expect(stats).toEqual({
      num_instances: 3,
      num_vm_active: 2,
      num_vm_paused: 1,
      num_task_None: 2,
      num_task_rebuilding: 1,
      'num_os_type_fake-os': 3,
      'num_proj_fake-project': 2,
      num_proj_p2: 1,
    });
  });

  test('holds and orphans add no stats', () => {
    expect(recount(N0, [], [amounts(128, 1, 1)], [orphan('O1', 64)]).stats).toEqual({});
  });

  test('the recount of what a ledger claimed gives the ledger its used amounts and stats', () => {
    const ledger = new Ledger(N0);
    const requests = [
      request(),
      request({ instanceUuid: 'I2', flavor: flavor({ vcpus: 2, memoryMb: 64, rootGb: 2 }), projectId: 'p2' }),
      request({ instanceUuid: 'I3', vmState: 'building', taskState: 'spawning', osType: null, volumeBacked: true }),
    ];
    for (const r of requests) expect(ledger.claim(r)).toEqual([]);
    const r = recount(
      N0,
      requests.map((q) => ({ ...planClaim(q).amounts, ...q })),
      [],
      [],
    );
    expect(r.used).toEqual(ledger.used);
    expect(r.stats).toEqual(ledger.stats);
  });
});

describe('drift is after - before per resource, with the view names', () => {
  test.each<[string, Amounts, Amounts, ReturnType<typeof drift>]>([
    ['nothing changed', amounts(512, 1, 2), amounts(512, 1, 2), { memoryMbUsed: 0, localGbUsed: 0, vcpusUsed: 0 }],
    ['more used after', amounts(512, 1, 2), amounts(640, 3, 3), { memoryMbUsed: 128, localGbUsed: 2, vcpusUsed: 1 }],
    ['less used after', amounts(640, 3, 3), amounts(512, 1, 2), { memoryMbUsed: -128, localGbUsed: -2, vcpusUsed: -1 }],
    [
      'each resource on its own',
      amounts(0, 0, 0),
      amounts(1, 20, 300),
      { memoryMbUsed: 1, localGbUsed: 20, vcpusUsed: 300 },
    ],
    ['fractions of a GB', amounts(0, 0.5, 0), amounts(0, 2, 0), { memoryMbUsed: 0, localGbUsed: 1.5, vcpusUsed: 0 }],
  ])('%s', (_, before, after, expected) => {
    expect(drift(before, after)).toStrictEqual(expected);
  });
});

describe('comparing the tracked instances with those the hypervisor runs', () => {
  test('unknown: running but not tracked; missing: tracked but not running; both sorted', () => {
    expect(compareWithHypervisor(['I9', 'I2', 'I5', 'I1'], ['I7', 'I5', 'I3', 'I1'])).toEqual({
      unknownInstances: ['I3', 'I7'],
      missingInstances: ['I2', 'I9'],
    });
  });

  test('the same instances, in any order, are neither unknown nor missing', () => {
    expect(compareWithHypervisor(['I1', 'I2'], ['I2', 'I1'])).toEqual({ unknownInstances: [], missingInstances: [] });
  });

  test('without a list from the hypervisor, nothing is reported', () => {
    expect(compareWithHypervisor(['I1', 'I2'], undefined)).toEqual({ unknownInstances: [], missingInstances: [] });
  });

  test('an empty list from the hypervisor makes every tracked instance missing', () => {
    expect(compareWithHypervisor(['I2', 'I1'], [])).toEqual({ unknownInstances: [], missingInstances: ['I1', 'I2'] });
  });

  test('nothing tracked makes every running instance unknown', () => {
    expect(compareWithHypervisor([], ['I2', 'I1'])).toEqual({ unknownInstances: ['I1', 'I2'], missingInstances: [] });
  });
});

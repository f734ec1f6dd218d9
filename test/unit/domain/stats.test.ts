import {
  applyStatsDelta,
  statsOf,
  consumesNothing,
  currentWorkload,
  ioWorkload,
  keepsConsuming,
  runningVms,
  statsDelta,
  VM_STATES,
  type InstanceState,
  type Stats,
} from '../../../lib/domain';
import { state } from './fixtures';

const ACTIVE = state();
const NEW_KEYS = { num_vm_active: 1, num_task_None: 1, 'num_os_type_fake-os': 1, 'num_proj_fake-project': 1 };
const OLD_KEYS_GONE = { num_vm_active: -1, num_task_None: -1, 'num_os_type_fake-os': -1, 'num_proj_fake-project': -1 };

describe('stats of a new instance', () => {
  test('count one more instance and one more on its vm, task, os type and project keys', () => {
    expect(statsDelta(undefined, ACTIVE, false)).toEqual({ num_instances: 1, ...NEW_KEYS });
  });

  test('a null task state, os type or project is counted under None', () => {
    expect(
      statsDelta(undefined, state({ vmState: 'building', taskState: null, osType: null, projectId: null }), false),
    ).toEqual({
      num_instances: 1,
      num_vm_building: 1,
      num_task_None: 1,
      num_os_type_None: 1,
      num_proj_None: 1,
    });
  });

  test('a task state is counted under its name', () => {
    expect(statsDelta(undefined, state({ taskState: 'spawning', osType: 'linux', projectId: 'p1' }), false)).toEqual({
      num_instances: 1,
      num_vm_active: 1,
      num_task_spawning: 1,
      num_os_type_linux: 1,
      num_proj_p1: 1,
    });
  });

  test.each<Partial<InstanceState>>([
    { vmState: 'deleted' },
    { vmState: 'shelved_offloaded', taskState: null },
    { vmState: 'shelved_offloaded', taskState: 'deleting' },
  ])('a new instance already in %o changes nothing', (s) => {
    expect(statsDelta(undefined, state(s), false)).toEqual({});
  });

  test.each(['spawning', 'unshelving'])('a new shelved_offloaded instance being unshelved (%s) counts', (taskState) => {
    expect(statsDelta(undefined, state({ vmState: 'shelved_offloaded', taskState }), false)).toEqual({
      num_instances: 1,
      num_vm_shelved_offloaded: 1,
      [`num_task_${taskState}`]: 1,
      'num_os_type_fake-os': 1,
      'num_proj_fake-project': 1,
    });
  });

  test('a new instance that is removed at once changes nothing', () => {
    expect(statsDelta(undefined, ACTIVE, true)).toEqual({});
  });
});

describe('stats of a state change', () => {
  test('every key changes: -1 on the old four, +1 on the new four, num_instances unchanged', () => {
    const after = state({ vmState: 'stopped', taskState: 'powering-on', osType: 'windows', projectId: 'p2' });
    expect(statsDelta(ACTIVE, after, false)).toEqual({
      ...OLD_KEYS_GONE,
      num_vm_stopped: 1,
      'num_task_powering-on': 1,
      num_os_type_windows: 1,
      num_proj_p2: 1,
    });
  });

  test.each<[string, Partial<InstanceState>, Record<string, number>]>([
    ['only the vm state', { vmState: 'paused' }, { num_vm_active: -1, num_vm_paused: 1 }],
    ['only the task state', { taskState: 'rebuilding' }, { num_task_None: -1, num_task_rebuilding: 1 }],
    ['only the os type', { osType: null }, { 'num_os_type_fake-os': -1, num_os_type_None: 1 }],
    ['only the project', { projectId: 'other' }, { 'num_proj_fake-project': -1, num_proj_other: 1 }],
  ])('when %s changes, the keys that net to zero are left out', (_, change, expected) => {
    expect(statsDelta(ACTIVE, state(change), false)).toEqual(expected);
  });

  test('an unchanged state writes nothing', () => {
    expect(statsDelta(ACTIVE, state(), false)).toEqual({});
  });
});

describe('stats of a removal', () => {
  const removal = { ...OLD_KEYS_GONE, num_instances: -1 };

  test('removing drops one instance and -1 on its four keys', () => {
    expect(statsDelta(ACTIVE, ACTIVE, true)).toEqual(removal);
  });

  test('removing takes the tracked state off, whatever the state passed as the new one', () => {
    expect(statsDelta(ACTIVE, state({ vmState: 'error', taskState: 'deleting' }), true)).toEqual(removal);
  });

  test.each<Partial<InstanceState>>([
    { vmState: 'deleted', taskState: 'x' },
    { vmState: 'deleted', taskState: 'spawning' },
    { vmState: 'shelved_offloaded', taskState: null },
    { vmState: 'shelved_offloaded', taskState: 'x' },
  ])('entering %o is a removal', (s) => {
    expect(statsDelta(ACTIVE, state(s), false)).toEqual(removal);
  });

  test('only deleted, and shelved_offloaded when not being unshelved, consume nothing (rule M9)', () => {
    const releasing = VM_STATES.filter((vmState) => consumesNothing({ vmState, taskState: null }));
    expect(releasing.sort()).toEqual(['deleted', 'shelved_offloaded']);
    expect(consumesNothing({ vmState: 'shelved_offloaded', taskState: 'spawning' })).toBe(false);
    expect(consumesNothing({ vmState: 'shelved_offloaded', taskState: 'unshelving' })).toBe(false);
  });

  test.each(VM_STATES.filter((s) => s !== 'deleted' && s !== 'shelved_offloaded'))(
    'entering %s is not a removal',
    (vmState) => {
      expect(statsDelta(ACTIVE, state({ vmState }), false).num_instances).toBeUndefined();
    },
  );

  test.each(['spawning', 'unshelving'])('entering shelved_offloaded with task %s is not a removal', (taskState) => {
    expect(statsDelta(ACTIVE, state({ vmState: 'shelved_offloaded', taskState }), false)).toEqual({
      num_vm_active: -1,
      num_vm_shelved_offloaded: 1,
      num_task_None: -1,
      [`num_task_${taskState}`]: 1,
    });
  });
});

describe('applying a stats delta', () => {
  test('adds each key, creating missing keys', () => {
    expect(applyStatsDelta({ num_instances: 2, num_vm_active: 2 }, { num_instances: 1, num_vm_building: 1 })).toEqual({
      num_instances: 3,
      num_vm_active: 2,
      num_vm_building: 1,
    });
  });

  test('keys that fall to 0 remain', () => {
    expect(applyStatsDelta({ num_instances: 1, num_vm_active: 1 }, { num_instances: -1, num_vm_active: -1 })).toEqual({
      num_instances: 0,
      num_vm_active: 0,
    });
  });

  test('the stats passed in are not changed', () => {
    const stats: Stats = { num_instances: 1 };
    applyStatsDelta(stats, { num_instances: 5 });
    expect(stats).toEqual({ num_instances: 1 });
  });

  test('claim, state change and release sum back to zero on every key touched', () => {
    const after = state({ taskState: 'rebuilding' });
    let stats: Stats = {};
    for (const d of [
      statsDelta(undefined, ACTIVE, false),
      statsDelta(ACTIVE, after, false),
      statsDelta(after, after, true),
    ]) {
      stats = applyStatsDelta(stats, d);
    }
    expect(stats).toEqual({
      num_instances: 0,
      ...Object.fromEntries(Object.keys(NEW_KEYS).map((k) => [k, 0])),
      num_task_rebuilding: 0,
    });
  });
});

describe('io_workload counts building instances and I/O-heavy task states', () => {
  test.each([
    'resize_migrating',
    'rebuilding',
    'resize_prep',
    'image_snapshot',
    'image_backup',
    'rescuing',
    'unshelving',
  ])('task state %s counts', (task) => {
    expect(ioWorkload({ [`num_task_${task}`]: 2 })).toBe(2);
  });

  test('vm state building counts', () => {
    expect(ioWorkload({ num_vm_building: 3 })).toBe(3);
  });

  test.each([
    ['other task states', { num_task_spawning: 1, 'num_task_powering-off': 1, num_task_None: 4 }],
    ['other vm states', { num_vm_active: 5, num_vm_rescued: 1, num_vm_resized: 1 }],
    ['the instance count', { num_instances: 9 }],
    ['the os type and project keys', { num_os_type_rebuilding: 1, num_proj_building: 1 }],
  ])('%s do not count', (_, stats) => {
    expect(ioWorkload(stats)).toBe(0);
  });

  test('all the counting keys add up', () => {
    expect(
      ioWorkload({
        num_vm_building: 1,
        num_task_resize_migrating: 2,
        num_task_rebuilding: 3,
        num_task_resize_prep: 4,
        num_task_image_snapshot: 5,
        num_task_image_backup: 6,
        num_task_rescuing: 7,
        num_task_unshelving: 8,
        num_vm_active: 100,
        num_task_spawning: 100,
      }),
    ).toBe(36);
  });

  test('no stats is no workload', () => {
    expect(ioWorkload({})).toBe(0);
  });
});

describe('current workload is the instances with a task state', () => {
  test.each<[string, Stats, number]>([
    [
      'every num_task_ key but num_task_None is summed',
      { num_task_spawning: 2, num_task_rebuilding: 3, num_task_None: 7 },
      5,
    ],
    ['num_task_None alone is no workload', { num_task_None: 4 }, 0],
    [
      'vm, os type, project and instance keys do not count',
      { num_instances: 3, num_vm_active: 3, num_os_type_x: 3, num_proj_y: 3 },
      0,
    ],
    ['keys at 0 add nothing', { num_task_spawning: 0, num_task_rebuilding: 1 }, 1],
    ['no stats is no workload', {}, 0],
  ])('%s', (_, stats, expected) => {
    expect(currentWorkload(stats)).toBe(expected);
  });
});

describe('running VMs are num_instances', () => {
  test.each<[Stats, number]>([
    [{ num_instances: 3, num_vm_active: 1 }, 3],
    [{ num_instances: 0, num_vm_active: 0 }, 0],
    [{ num_vm_active: 2 }, 0],
  ])('%j gives %d', (stats, expected) => {
    expect(runningVms(stats)).toBe(expected);
  });
});

describe('statsOf (rule S6)', () => {
  const active = { vmState: 'active', taskState: null, osType: 'linux', projectId: 'p1' } as const;
  it('counts each instance in its four keys and num_instances', () => {
    expect(statsOf([active, { ...active, taskState: 'rebuilding', projectId: 'p2' }])).toEqual({
      num_instances: 2,
      num_vm_active: 2,
      num_task_None: 1,
      num_task_rebuilding: 1,
      num_os_type_linux: 2,
      num_proj_p1: 1,
      num_proj_p2: 1,
    });
  });
  it('is what the deltas add up to, without the keys they leave at 0', () => {
    const moved = { ...active, vmState: 'stopped' } as const;
    const summed = applyStatsDelta(statsDelta(undefined, active, false), statsDelta(active, moved, false));
    expect(summed.num_vm_active).toBe(0);
    const { num_vm_active: _gone, ...rest } = summed;
    expect(statsOf([moved])).toEqual(rest);
  });
  it('leaves out an instance in a state that consumes nothing, and shows nothing for none', () => {
    expect(statsOf([{ ...active, vmState: 'deleted' }])).toEqual({});
    expect(statsOf([])).toEqual({});
  });
});

describe('a state change written without reading the record (keepsConsuming, rule M9)', () => {
  const TASKS = [null, 'spawning', 'unshelving', 'image_snapshot'];
  // Every state a tracked record can be in: the ones that consume.
  const records = VM_STATES.flatMap((vmState) => TASKS.map((taskState) => ({ vmState, taskState }))).filter(
    (r) => !consumesNothing(r),
  );
  const changes: Partial<InstanceState>[] = [
    {},
    { osType: 'linux' },
    { projectId: 'p' },
    ...TASKS.map((taskState) => ({ taskState })),
    ...VM_STATES.flatMap((vmState) => [{ vmState }, ...TASKS.map((taskState) => ({ vmState, taskState }))]),
  ];
  const apply = (r: (typeof records)[number], c: Partial<InstanceState>) => ({
    vmState: c.vmState ?? r.vmState,
    taskState: c.taskState !== undefined ? c.taskState : r.taskState,
  });

  test.each(changes)(
    '%o: never releases a record outside `unless`, and is refused only when it may release one',
    (c) => {
      const keeps = keepsConsuming(c);
      const releasesSome = records.some((r) => consumesNothing(apply(r, c)));
      if (!keeps) {
        expect(releasesSome).toBe(true);
        return;
      }
      for (const r of records.filter((x) => !keeps.unless.includes(x.vmState))) {
        expect({ r, releases: consumesNothing(apply(r, c)) }).toEqual({ r, releases: false });
      }
    },
  );
});

// The worked examples, on a ledger composed of the domain functions (see fixtures.ts).
import { amounts, flavor, Ledger, N0, request, state, usedAndFree } from './fixtures';

const EMPTY = { used: [0, 0, 0], free: [512, 6] };
const I1_STATS = {
  num_instances: 1,
  num_vm_active: 1,
  num_task_None: 1,
  'num_os_type_fake-os': 1,
  'num_proj_fake-project': 1,
};

function withI1(): Ledger {
  const ledger = new Ledger(N0);
  expect(ledger.claim(request())).toEqual([]);
  return ledger;
}

describe('worked examples on node N0', () => {
  test('1: N0 alone uses nothing, has all of its memory and disk free and no instances', () => {
    const view = new Ledger(N0).view();
    expect(usedAndFree(view)).toEqual(EMPTY);
    expect(view).toMatchObject({ runningVms: 0, currentWorkload: 0 });
  });

  describe('2: reserved host resources count as used from the start', () => {
    const reserving = { ...N0, reservedHostDiskMb: 1024, reservedHostMemoryMb: 512, reservedHostCpus: 1 };

    test('used 512/1/1 and free 0/5', () => {
      expect(usedAndFree(new Ledger(reserving).view())).toEqual({ used: [512, 1, 1], free: [0, 5] });
    });

    test('the memory limit is 768 MB, so a 256 MB claim still fits despite 0 MB free', () => {
      const ledger = new Ledger(reserving);
      expect(ledger.view().limits.memoryMb).toBe(768);
      expect(ledger.claim(request({ flavor: flavor({ memoryMb: 256 }) }))).toEqual([]);
      expect(usedAndFree(ledger.view())).toEqual({ used: [768, 2, 2], free: [-256, 4] });
    });

    test('a 257 MB claim does not fit', () => {
      expect(new Ledger(reserving).claim(request({ flavor: flavor({ memoryMb: 257 }) }))).toEqual([
        'Free memory 256.00 MB < requested 257 MB',
      ]);
    });
  });

  test('3: claiming I1 takes F1 and counts it in the stats', () => {
    const view = withI1().view();
    expect(usedAndFree(view)).toEqual({ used: [128, 1, 1], free: [384, 5] });
    expect(view.runningVms).toBe(1);
    expect(view.stats).toEqual({ ...I1_STATS, io_workload: 0 });
  });

  test('4: I1 shelved offloaded gives everything back and leaves no stats key (rule S6)', () => {
    const ledger = withI1();
    ledger.update('I1', state({ vmState: 'shelved_offloaded' }));
    const view = ledger.view();
    expect(usedAndFree(view)).toEqual(EMPTY);
    expect(view.runningVms).toBe(0);
    expect(view.stats).toEqual({ io_workload: 0 });
  });

  test('5: releasing I1 gives everything back', () => {
    const ledger = withI1();
    ledger.release('I1');
    expect(usedAndFree(ledger.view())).toEqual(EMPTY);
    expect(ledger.view().runningVms).toBe(0);
  });

  test('a state change keeps the resources and moves the stats', () => {
    const ledger = withI1();
    ledger.update('I1', state({ taskState: 'rebuilding' }));
    const view = ledger.view();
    expect(usedAndFree(view)).toEqual({ used: [128, 1, 1], free: [384, 5] });
    expect(view).toMatchObject({ runningVms: 1, currentWorkload: 1 });
    expect(view.stats).toMatchObject({ num_task_rebuilding: 1, io_workload: 1 });
    // The task state it left shows no key, not one at 0 (rule S6).
    expect(view.stats.num_task_None).toBeUndefined();
  });

  test('claims add up until a resource runs out, and the refused claim takes nothing', () => {
    const ledger = new Ledger(N0);
    for (const id of ['A', 'B', 'C', 'D', 'E', 'F']) {
      expect(ledger.claim(request({ instanceUuid: id }))).toEqual([]);
    }
    expect(ledger.claim(request({ instanceUuid: 'G' }))).toEqual([
      'Free memory 0.00 MB < requested 128 MB',
      'Free disk 0.00 GB < requested 1 GB',
    ]);
    const view = ledger.view();
    expect(usedAndFree(view)).toEqual({ used: [768, 6, 6], free: [-256, 0] });
    expect(view.runningVms).toBe(6);
  });

  test('fractional disk claims are exact, and released to exactly nothing', () => {
    const ledger = new Ledger(N0);
    const swap = (id: string) => request({ instanceUuid: id, flavor: flavor({ rootGb: 0, swapMb: 1536 }) });
    for (const id of ['A', 'B', 'C', 'D']) expect(ledger.claim(swap(id))).toEqual([]);
    expect(ledger.view().localGbUsed).toBe(6);
    expect(ledger.claim(swap('E'))).toEqual(['Free disk 0.00 GB < requested 1 GB']);
    for (const id of ['A', 'B', 'C', 'D']) ledger.release(id);
    expect(usedAndFree(ledger.view())).toEqual(EMPTY);
  });

  test('after the inventory shrinks, free goes negative and even an empty claim is refused', () => {
    const ledger = new Ledger(N0);
    expect(ledger.claim(request({ flavor: flavor({ memoryMb: 600, rootGb: 3 }) }))).toEqual([]);
    ledger.inventory = { ...N0, memoryMb: 256, localGb: 2 };
    expect(usedAndFree(ledger.view())).toEqual({ used: [600, 3, 1], free: [-344, -1] });
    expect(ledger.claim(request({ instanceUuid: 'I2', flavor: flavor({ vcpus: 0, memoryMb: 0, rootGb: 0 }) }))).toEqual(
      ['Free memory -216.00 MB < requested 0 MB', 'Free disk -1.00 GB < requested 0 GB'],
    );
  });

  test('a volume-backed instance takes no local disk', () => {
    const ledger = new Ledger(N0);
    expect(
      ledger.claim(request({ flavor: flavor({ rootGb: 50 }), volumeBacked: true, overhead: amounts(0, 0, 0) })),
    ).toEqual([]);
    expect(usedAndFree(ledger.view())).toEqual({ used: [128, 0, 1], free: [384, 6] });
  });
});

describe('10: workload figures', () => {
  const instances = [
    ['building, no task', { vmState: 'building' }],
    ['building and spawning', { vmState: 'building', taskState: 'spawning' }],
    ['active, rebuilding', { taskState: 'rebuilding' }],
    ['active, image_snapshot', { taskState: 'image_snapshot' }],
    ['stopped, powering-on', { vmState: 'stopped', taskState: 'powering-on' }],
    ['active, no task', {}],
  ] as const;

  function busyLedger(): Ledger {
    const ledger = new Ledger({ ...N0, vcpus: 100, memoryMb: 100_000, localGb: 100 });
    for (const [id, s] of instances) expect(ledger.claim(request({ instanceUuid: id, ...s }))).toEqual([]);
    return ledger;
  }

  test('io_workload counts the building instances plus those in an I/O-heavy task state', () => {
    // 2 building + rebuilding + image_snapshot; spawning and powering-on are not I/O-heavy.
    expect(busyLedger().view().stats.io_workload).toBe(4);
  });

  test('currentWorkload counts the instances whose task state is not null, runningVms all of them', () => {
    // spawning, rebuilding, image_snapshot, powering-on.
    expect(busyLedger().view()).toMatchObject({ currentWorkload: 4, runningVms: 6 });
  });

  test('an instance finishing its I/O-heavy task lowers both figures', () => {
    const ledger = busyLedger();
    ledger.update('active, rebuilding', state({ taskState: null }));
    expect(ledger.view()).toMatchObject({
      currentWorkload: 3,
      runningVms: 6,
      stats: expect.objectContaining({ io_workload: 3 }),
    });
  });
});

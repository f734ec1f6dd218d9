import { nodeView, type Amounts, type NodeState, type Stats } from '../../../lib/domain';
import { amounts, N0 } from './fixtures';

const node = (used: Amounts, stats: Stats = {}, over: Partial<NodeState> = {}): NodeState => ({
  nodeId: 'n-1',
  ...N0,
  used,
  stats,
  generation: 7,
  pciPools: {},
  ...over,
});

describe('the node view', () => {
  test('shows the node id, the inventory and the generation as they are', () => {
    expect(nodeView(node(amounts(0, 0, 0)))).toMatchObject({ nodeId: 'n-1', ...N0, generation: 7, pciDevicePools: [] });
  });

  test('shows used as memoryMbUsed, localGbUsed and vcpusUsed, and no raw used field', () => {
    const view = nodeView(node(amounts(300, 2.5, 3)));
    expect([view.memoryMbUsed, view.localGbUsed, view.vcpusUsed]).toEqual([300, 2.5, 3]);
    expect(view).not.toHaveProperty('used');
  });

  test.each([
    ['free is size minus used, ignoring the ratios', amounts(300, 2.5, 3), {}, 212, 3.5],
    [
      'a ratio change does not change free',
      amounts(300, 2.5, 3),
      { ramAllocationRatio: 3, diskAllocationRatio: 2 },
      212,
      3.5,
    ],
    ['used beyond the size gives negative free, not clamped', amounts(700, 8, 100), {}, -188, -2],
    ['nothing used leaves the whole size free', amounts(0, 0, 0), {}, 512, 6],
    ['free is exactly zero when used equals the size', amounts(512, 6, 4), {}, 0, 0],
  ])('%s', (_, used, over, freeRamMb, freeDiskGb) => {
    const view = nodeView(node(used, {}, over));
    expect([view.freeRamMb, view.freeDiskGb]).toEqual([freeRamMb, freeDiskGb]);
  });

  test('shows the node limits: size times ratio', () => {
    expect(nodeView(node(amounts(0, 0, 0), {}, { diskAllocationRatio: 2 })).limits).toEqual({
      vcpus: 64,
      memoryMb: 768,
      diskGb: 12,
    });
  });

  test('the stats are shown with io_workload added', () => {
    const stats = { num_instances: 2, num_vm_building: 1, num_vm_active: 1, num_task_rebuilding: 1, num_task_None: 1 };
    expect(nodeView(node(amounts(0, 0, 0), stats)).stats).toEqual({ ...stats, io_workload: 2 });
  });

  test('io_workload is 0 without stats', () => {
    expect(nodeView(node(amounts(0, 0, 0))).stats).toEqual({ io_workload: 0 });
  });

  test('a stale io_workload in the stored stats is replaced by the computed one', () => {
    expect(nodeView(node(amounts(0, 0, 0), { io_workload: 9, num_vm_building: 1 })).stats.io_workload).toBe(1);
  });

  test('runningVms is num_instances and currentWorkload the instances with a task state', () => {
    const stats = { num_instances: 3, num_task_spawning: 1, num_task_rebuilding: 1, num_task_None: 1 };
    expect(nodeView(node(amounts(0, 0, 0), stats))).toMatchObject({ runningVms: 3, currentWorkload: 2 });
  });

  test('the node state passed in is not changed', () => {
    const state = node(amounts(1, 1, 1), { num_instances: 1 });
    const copy = structuredClone(state);
    nodeView(state);
    expect(state).toEqual(copy);
  });
});

// Unshelve as Nova sends it (rule M9, Nova bug #2025480): the compute manager claims an unshelving
// instance while its vm state is still shelved_offloaded and its task state spawning (or unshelving); the
// instance is tracked and counted until it is offloaded again with no task.
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { F1, N0, uuid } from '../support/fixtures';
import { expectLedgerExact } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('unshelve');
});

let seq = 0;
async function node() {
  const id = `unshelve-${++seq}`;
  expect((await api('PUT', `/nodes/${id}`, N0)).status).toBe(201);
  return id;
}

const unshelving = (taskState: string) => ({
  instanceUuid: uuid(),
  flavor: F1,
  vmState: 'shelved_offloaded',
  taskState,
  projectId: 'p1',
  osType: 'linux',
});

/** The node's figures and the counters that are not zero. */
async function figures(nodeId: string) {
  await expectLedgerExact(store, nodeId);
  const n = (await api('GET', `/nodes/${nodeId}`)).body;
  const stats = Object.fromEntries(Object.entries(n.stats as Record<string, number>).filter(([, v]) => v !== 0));
  return {
    used: `${n.memoryMbUsed}/${n.localGbUsed}/${n.vcpusUsed}`,
    runningVms: n.runningVms,
    currentWorkload: n.currentWorkload,
    stats,
  };
}

const counted = (taskState: string) => ({
  used: '128/1/1',
  runningVms: 1,
  currentWorkload: 1,
  stats: {
    num_instances: 1,
    num_vm_shelved_offloaded: 1,
    [`num_task_${taskState}`]: 1,
    num_os_type_linux: 1,
    num_proj_p1: 1,
    // unshelving is one of the I/O-heavy task states (rule S3), spawning is not.
    ...(taskState === 'unshelving' ? { io_workload: 1 } : {}),
  },
});
const nothing = { used: '0/0/0', runningVms: 0, currentWorkload: 0, stats: {} };

describe('a claim of an instance being unshelved', () => {
  test.each(['spawning', 'unshelving'])(
    'shelved_offloaded with task %s is accepted, counted and kept by the audit',
    async (taskState) => {
      const n = await node();
      const body = unshelving(taskState);
      const res = await api('POST', `/nodes/${n}/instances`, body);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ vmState: 'shelved_offloaded', taskState, memoryMb: 128 });
      const after = counted(taskState);
      expect(await figures(n)).toEqual(after);
      const audit = await api('POST', `/nodes/${n}/audit`, { instances: [body.instanceUuid] });
      expect(audit.body).toMatchObject({
        drift: { memoryMbUsed: 0, localGbUsed: 0, vcpusUsed: 0 },
        missingInstances: [],
        unknownInstances: [],
      });
      expect(await figures(n)).toEqual(after);
      expect((await api('GET', `/nodes/${n}/instances/${body.instanceUuid}`)).status).toBe(200);
    },
  );

  test('it becomes active with the stats moved, then a PATCH to shelved_offloaded with no task releases it', async () => {
    const n = await node();
    const body = unshelving('spawning');
    expect((await api('POST', `/nodes/${n}/instances`, body)).status).toBe(201);
    const path = `/nodes/${n}/instances/${body.instanceUuid}`;
    const active = await api('PATCH', path, { vmState: 'active', taskState: null });
    expect(active.body).toMatchObject({ vmState: 'active', tracked: true });
    expect((await figures(n)).stats).toEqual({
      num_instances: 1,
      num_vm_active: 1,
      num_task_None: 1,
      num_os_type_linux: 1,
      num_proj_p1: 1,
    });
    // Shelved again and offloaded, still with a task: the offload is under way, the instance consumes.
    const offloading = await api('PATCH', path, { vmState: 'shelved_offloaded', taskState: 'spawning' });
    expect(offloading.body).toMatchObject({ tracked: true });
    expect((await figures(n)).used).toBe('128/1/1');
    const offloaded = await api('PATCH', path, { taskState: null });
    expect(offloaded.status).toBe(200);
    expect(offloaded.body).toMatchObject({ vmState: 'shelved_offloaded', taskState: null, tracked: false });
    expect(await figures(n)).toEqual(nothing);
    expect((await api('GET', path)).status).toBe(404);
  });

  test('spawning fails: shelved_offloaded with no task releases it at once', async () => {
    const n = await node();
    const body = unshelving('unshelving');
    expect((await api('POST', `/nodes/${n}/instances`, body)).status).toBe(201);
    const path = `/nodes/${n}/instances/${body.instanceUuid}`;
    expect((await api('PATCH', path, { taskState: 'spawning' })).body).toMatchObject({ tracked: true });
    expect(await figures(n)).toEqual(counted('spawning'));
    const res = await api('PATCH', path, { vmState: 'shelved_offloaded', taskState: null });
    expect(res.body).toMatchObject({ tracked: false });
    expect(await figures(n)).toEqual(nothing);
  });

  test.each<[string, object]>([
    ['no task', { taskState: null }],
    ['the default task (scheduling)', {}],
    ['another task', { taskState: 'deleting' }],
  ])('shelved_offloaded with %s is 400 and writes nothing', async (_, task) => {
    const n = await node();
    const scan = async () =>
      ((await store.doc.send(new ScanCommand({ TableName: store.tableName, ConsistentRead: true }))).Items ?? [])
        .map((i) => JSON.stringify(i, Object.keys(i).sort()))
        .sort();
    const before = await scan();
    const { taskState: _t, ...body } = unshelving('spawning');
    const res = await api('POST', `/nodes/${n}/instances`, { ...body, ...task });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('ValidationError');
    expect(res.body.message).toContain('vmState');
    expect(res.body.message).toContain('spawning or unshelving');
    expect(await scan()).toEqual(before);
  });
});

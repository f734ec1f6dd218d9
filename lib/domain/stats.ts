// Nova's per-node instance statistics (rules S1-S5, D5), computed when the node is read from the instance
// records it tracks: keys named after projects, OS types and task states are client input, and stored on the
// node item they would grow it, and every claim's write units, with everything the node ever hosted (rule S6).

export const VM_STATES = [
  'active',
  'building',
  'paused',
  'suspended',
  'stopped',
  'rescued',
  'resized',
  'soft-delete',
  'deleted',
  'error',
  'shelved',
  'shelved_offloaded',
] as const;
export type VmState = (typeof VM_STATES)[number];

export interface InstanceState {
  vmState: VmState;
  taskState: string | null;
  osType: string | null;
  projectId: string | null;
}

/**
 * The task states of an instance that is being unshelved onto the node while still shelved_offloaded:
 * Nova's compute manager claims it in `spawning` (the API has set `unshelving` before), and its tracker
 * keeps it tracked (bug #2025480).
 */
export const UNSHELVING_TASK_STATES: ReadonlySet<string> = new Set(['spawning', 'unshelving']);

/**
 * Whether an instance in this state consumes nothing (rule M9): `deleted`, and `shelved_offloaded` unless
 * it is being unshelved. A claim cannot start in such a state; entering one releases the claim.
 */
export function consumesNothing(s: Pick<InstanceState, 'vmState' | 'taskState'>): boolean {
  if (s.vmState === 'deleted') return true;
  return s.vmState === 'shelved_offloaded' && !(s.taskState !== null && UNSHELVING_TASK_STATES.has(s.taskState));
}

/**
 * Whether a state change leaves a tracked instance consuming its claim whatever record it is applied to, and if so
 * the vm states the record must not be in for that (rule M9): a record is never `deleted`, and is
 * `shelved_offloaded` only while unshelving, when a new task state may release it. Undefined when the change
 * may release the claim itself: then only the record read can tell.
 */
export function keepsConsuming(change: Partial<InstanceState>): { unless: VmState[] } | undefined {
  const { vmState, taskState } = change;
  if (vmState === undefined) return { unless: taskState === undefined ? [] : ['deleted', 'shelved_offloaded'] };
  if (vmState === 'shelved_offloaded' && taskState === undefined) return undefined;
  return consumesNothing({ vmState, taskState: taskState ?? null }) ? undefined : { unless: [] };
}

/** Task states that count toward io_workload, together with vm state 'building' (rule S3). */
const IO_TASK_STATES = [
  'resize_migrating',
  'rebuilding',
  'resize_prep',
  'image_snapshot',
  'image_backup',
  'rescuing',
  'unshelving',
];

export type Stats = Record<string, number>;
export type StatsDelta = Record<string, number>;

// Python renders None as 'None' in the key names (num_task_None).
const show = (v: string | null) => (v === null ? 'None' : v);

function stateKeys(s: InstanceState): string[] {
  return [
    `num_vm_${s.vmState}`,
    `num_task_${show(s.taskState)}`,
    `num_os_type_${show(s.osType)}`,
    `num_proj_${show(s.projectId)}`,
  ];
}

/**
 * The counter changes of Nova's update_stats_for_instance (rule S2) as a delta: `before` is the tracked
 * state (undefined for an instance not yet tracked), `after` the new one; `removed` drops the instance.
 * Keys that net to zero are left out, so an unchanged state writes nothing.
 */
export function statsDelta(before: InstanceState | undefined, after: InstanceState, removed: boolean): StatsDelta {
  const delta: StatsDelta = {};
  const bump = (key: string, by: number) => {
    delta[key] = (delta[key] ?? 0) + by;
  };
  if (before) for (const key of stateKeys(before)) bump(key, -1);
  else bump('num_instances', 1);
  if (removed || consumesNothing(after)) bump('num_instances', -1);
  else for (const key of stateKeys(after)) bump(key, 1);
  for (const key of Object.keys(delta)) if (delta[key] === 0) delete delta[key];
  return delta;
}

export function applyStatsDelta(stats: Stats, delta: StatsDelta): Stats {
  const next = { ...stats };
  for (const [key, by] of Object.entries(delta)) next[key] = (next[key] ?? 0) + by;
  return next;
}

/** The stats of the instances a node tracks (rule S6): what the deltas of S2 add up to, keys at 0 left out. */
export function statsOf(instances: readonly InstanceState[]): Stats {
  let stats: Stats = {};
  for (const i of instances) stats = applyStatsDelta(stats, statsDelta(undefined, i, false));
  for (const key of Object.keys(stats)) if (stats[key] === 0) delete stats[key];
  return stats;
}

/** io_workload: instances building plus those in an I/O-heavy task state (rule S3). */
export function ioWorkload(stats: Stats): number {
  return (stats.num_vm_building ?? 0) + IO_TASK_STATES.reduce((sum, t) => sum + (stats[`num_task_${t}`] ?? 0), 0);
}

/** current_workload: instances with a task state (rule S4). */
export function currentWorkload(stats: Stats): number {
  let sum = 0;
  for (const [key, n] of Object.entries(stats)) if (key.startsWith('num_task') && !key.endsWith('None')) sum += n;
  return sum;
}

/** running_vms = num_instances (rule S5). */
export function runningVms(stats: Stats): number {
  return stats.num_instances ?? 0;
}

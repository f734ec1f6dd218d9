// Moves (resize, cold migration, evacuation, live migration): which node holds what in every migration status
// (rules M7, M8, L2, D4), and which status changes apply. Pure: the store turns a plan into one transaction.
import { add, RESOURCES, scale, ZERO, type Amounts } from './resources';
import type { Flavor, Overhead } from './usage';

export const MOVE_TYPES = ['resize', 'migration', 'evacuation', 'live-migration'] as const;
export type MoveType = (typeof MOVE_TYPES)[number];

/**
 * Whether a move of this kind may have its source as its destination (rule M6): a same-host resize, yes;
 * a migration or an evacuation onto the node the instance is on would hold it there twice, and Nova
 * refuses both.
 */
export const mayStayOnNode = (moveType: MoveType) => moveType === 'resize';

const COLD_IN_PROGRESS = [
  'pre-migrating',
  'migrating',
  'post-migrating',
  'finished',
  'confirming',
  'reverting',
] as const;
export const IN_PROGRESS = [...COLD_IN_PROGRESS, 'queued', 'preparing', 'running'] as const;
export const FINAL = ['confirmed', 'reverted', 'error', 'failed', 'cancelled', 'done', 'completed'] as const;
/**
 * 'accepted' precedes a cold move's claim (Nova's API creates the migration so) and can only arrive late;
 * a live migration's claim keeps it (rule L1).
 */
export const STATUSES = ['accepted', ...IN_PROGRESS, ...FINAL] as const;
export type MigrationStatus = (typeof STATUSES)[number];

// One order for every kind: a status outside a kind's lifecycle is refused before its rank is looked at,
// so the live statuses (queued, preparing, running) and the cold ones only need to be ordered among their own.
const RANK: Record<MigrationStatus, number> = {
  accepted: 0,
  queued: 1,
  preparing: 2,
  'pre-migrating': 3,
  migrating: 4,
  running: 4,
  'post-migrating': 5,
  finished: 6,
  confirming: 7,
  reverting: 7,
  confirmed: 8,
  reverted: 8,
  error: 8,
  failed: 8,
  cancelled: 8,
  done: 8,
  completed: 8,
};
const FINAL_RANK = 8;

const COLD: MigrationStatus[] = [
  'accepted',
  ...COLD_IN_PROGRESS,
  'confirmed',
  'reverted',
  'error',
  'failed',
  'cancelled',
];

/** The statuses each kind of move goes through (Nova's resize and cold migration share one lifecycle). */
const LIFECYCLE: Record<MoveType, ReadonlySet<MigrationStatus>> = {
  resize: new Set(COLD),
  migration: new Set(COLD),
  evacuation: new Set([
    'accepted',
    'pre-migrating',
    'migrating',
    'post-migrating',
    'done',
    'error',
    'failed',
    'cancelled',
  ]),
  // Rule L2: Nova's live-migration statuses; it never passes through finished, so it has no old hold.
  'live-migration': new Set([
    'accepted',
    'queued',
    'preparing',
    'running',
    'post-migrating',
    'completed',
    'error',
    'failed',
    'cancelled',
  ]),
};

export const isFinal = (s: MigrationStatus) => RANK[s] === FINAL_RANK;

/** The status a move claim creates its migration with (rules O6, L1). */
export function initialStatus(moveType: MoveType): MigrationStatus {
  switch (moveType) {
    case 'resize':
    case 'migration':
    case 'evacuation':
      return 'pre-migrating';
    case 'live-migration':
      return 'accepted';
  }
}

/** What one side of a move holds: the flavor, the overhead sent with it, and the usage they make. */
export interface Sizing {
  flavor: Flavor;
  overhead: Overhead;
  volumeBacked: boolean;
  amounts: Amounts;
  /** The PCI devices this side holds (on the source node for the old size, the destination for the new). */
  pciDevices: string[];
}

export interface Migration {
  migrationId: string;
  instanceUuid: string;
  moveType: MoveType;
  sourceNodeId: string;
  destNodeId: string;
  old: Sizing;
  new: Sizing;
  status: MigrationStatus;
  /** The highest sequence applied; a message whose sequence is not greater changes nothing. */
  sequence: number;
  fingerprint: string;
  /** A live migration's earlier destinations, which the scheduler left for this one (rule L4). */
  formerDestNodeIds?: string[];
  version: number;
}

export type Decision = { kind: 'apply' } | { kind: 'ignore'; reason: string } | { kind: 'invalid'; reason: string };

/**
 * Whether a status change applies. Going backwards, standing still, arriving after a final status or with
 * a stale sequence changes nothing (and is not an error: queues redeliver and reorder); a status the
 * move's lifecycle does not have, or switching between confirming and reverting, is refused.
 */
export function decide(m: Migration, next: MigrationStatus, sequence?: number): Decision {
  if (!LIFECYCLE[m.moveType].has(next)) {
    return { kind: 'invalid', reason: `A ${m.moveType} has no status ${next}.` };
  }
  if (sequence !== undefined && sequence <= m.sequence) {
    return { kind: 'ignore', reason: `sequence ${sequence} is not after ${m.sequence}` };
  }
  if (isFinal(m.status)) return { kind: 'ignore', reason: `the migration is already ${m.status}` };
  const crossing =
    (m.status === 'reverting' && (next === 'confirming' || next === 'confirmed')) ||
    (m.status === 'confirming' && (next === 'reverting' || next === 'reverted'));
  if (crossing) return { kind: 'invalid', reason: `A migration that is ${m.status} cannot become ${next}.` };
  if (RANK[next] <= RANK[m.status]) return { kind: 'ignore', reason: `${next} does not come after ${m.status}` };
  return { kind: 'apply' };
}

/** Something a node holds for the instance: the instance itself, or a move's hold of its new or old size. */
export interface Holding {
  nodeId: string;
  role: 'instance' | 'new' | 'old';
  size: 'old' | 'new';
}

const key = (h: Holding) => `${h.nodeId}|${h.role}|${h.size}`;

/**
 * Who holds what (rules M7, M8, L2, D4). Until `finished` the instance stays on the source with its old size
 * and the destination holds the new size; from `finished` the instance is on the destination with the
 * new size and the source keeps the old size for a revert. A final status keeps only where the instance
 * ends up: confirmed or done on the destination, reverted on the source, and a failure wherever the
 * instance was when it failed. A same-host resize is the same with both sides on one node. A live migration
 * has no `finished`: it holds as a cold move before it until `completed` puts the instance on the destination.
 */
export function placement(
  m: Pick<Migration, 'sourceNodeId' | 'destNodeId'>,
  status: MigrationStatus,
  before: MigrationStatus,
): Holding[] {
  const src = m.sourceNodeId;
  const dst = m.destNodeId;
  const onSource: Holding = { nodeId: src, role: 'instance', size: 'old' };
  const onDest: Holding = { nodeId: dst, role: 'instance', size: 'new' };
  const claimed = [onSource, { nodeId: dst, role: 'new', size: 'new' } as Holding];
  const finished = [{ nodeId: src, role: 'old', size: 'old' } as Holding, onDest];
  const phaseFinished = (s: MigrationStatus) => RANK[s] >= RANK.finished && RANK[s] <= RANK.confirming;
  switch (status) {
    case 'accepted':
    case 'queued':
    case 'preparing':
    case 'pre-migrating':
    case 'migrating':
    case 'running':
    case 'post-migrating':
      return claimed;
    case 'finished':
    case 'confirming':
    case 'reverting':
      return finished;
    case 'confirmed':
    case 'done':
    case 'completed':
      return [onDest];
    case 'reverted':
      return [onSource];
    case 'error':
    case 'failed':
    case 'cancelled':
      return [phaseFinished(before) ? onDest : onSource];
  }
}

export interface NodeChange {
  amounts: Amounts;
  tracked: number;
}

export interface MovePlan {
  remove: Holding[];
  create: Holding[];
  /** Holdings that go for good (not just trading places with the instance record): their devices are freed. */
  freed: Holding[];
  /** Per node: the usage and tracked-item count to add (negative to release); the stats follow the records (S6). */
  nodes: Map<string, NodeChange>;
  /** Where the instance is after the change. */
  host: string;
}

/**
 * The change from what is held now to what the new status needs. No node gains usage: every hold that
 * appears replaces one of the same size on the same node (the instance record and a hold trading
 * places). If a node would gain, a hold the move needs was dropped, and the change is refused.
 */
export function planMove(m: Migration, current: Holding[], target: Holding[]): MovePlan | { refused: string } {
  const wanted = new Set(target.map(key));
  const present = new Set(current.map(key));
  const remove = current.filter((h) => !wanted.has(key(h)));
  const create = target.filter((h) => !present.has(key(h)));
  const nodes = new Map<string, NodeChange>();
  const change = (nodeId: string) => {
    let c = nodes.get(nodeId);
    if (!c) nodes.set(nodeId, (c = { amounts: ZERO, tracked: 0 }));
    return c;
  };
  for (const [holdings, sign] of [
    [remove, -1],
    [create, 1],
  ] as const) {
    for (const h of holdings) {
      const c = change(h.nodeId);
      c.amounts = add(c.amounts, scale(m[h.size].amounts, sign));
      c.tracked += sign;
    }
  }
  for (const [nodeId, c] of nodes) {
    if (RESOURCES.some((r) => c.amounts[r] > 0)) {
      return { refused: `The move would add usage on node ${nodeId}: a hold it needs was dropped.` };
    }
  }
  const host = target.find((h) => h.role === 'instance')?.nodeId ?? m.sourceNodeId;
  const stays = new Set(create.map((h) => `${h.nodeId}|${h.size}`));
  const freed = remove.filter((h) => !stays.has(`${h.nodeId}|${h.size}`));
  return { remove, create, freed, nodes, host };
}

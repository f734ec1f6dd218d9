import {
  decide,
  isFinal,
  placement,
  planMove,
  type Holding,
  type InstanceRecord,
  type Migration,
  type MigrationStatus,
} from '../domain';
import { InvalidTransition } from '../errors';
import type { Store } from './client';
import { commitOrStartOver, type DeviceUpkeep, type NamedItem } from './commit';
import { deviceWrites, giveBackDevices } from './devices';
import {
  holdItem,
  holdKey,
  instanceItem,
  instanceKey,
  instanceRecordOf,
  migrationItem,
  migrationKey,
  migrationOf,
  ownerKey,
} from './items';
import { getMigration, snapshot } from './reads';
import { Contended, withRetry, type RetryContext } from './retry';
import { moveEndItems } from './server-group-moves';
import { nodeUpdate } from './writes';

export interface StatusResult {
  migration: Migration;
  /** False when the message was ignored (stale, repeated, out of order, or after a final status). */
  applied: boolean;
}

function samePlaces(a: Holding[], b: Holding[]): boolean {
  const keys = (hs: Holding[]) =>
    hs
      .map((h) => `${h.nodeId}|${h.role}|${h.size}`)
      .sort()
      .join(',');
  return keys(a) === keys(b);
}

/** Whether the migration as read is the result of this request's own latest write whose answer was lost. */
export function appliedByMe(intended: readonly Migration[], found: Migration): boolean {
  const last = intended.at(-1);
  return (
    last !== undefined &&
    found.version === last.version &&
    found.status === last.status &&
    found.sequence === last.sequence
  );
}

/**
 * A migration status update (HTTP or the queue). Reads the migration and what its nodes hold for it,
 * then moves the holds to where the new status wants them in ONE transaction over both nodes, the
 * instance record, the holds, the migration and the owner item: no moment exists where a hold is
 * counted twice or lost. Anything that changed since the read makes it start over.
 */
export async function changeMigrationStatus(
  store: Store,
  migrationId: string,
  status: MigrationStatus,
  sequence?: number,
): Promise<StatusResult> {
  return withRetry<StatusResult, Migration>(store, async (context) => {
    const m = await getMigration(store, migrationId);
    if (appliedByMe(context.intended, m)) return { migration: m, applied: true };
    const decision = decide(m, status, sequence);
    if (decision.kind === 'ignore') return { migration: m, applied: false };
    if (decision.kind === 'invalid') throw new InvalidTransition(decision.reason);
    const next: Migration = { ...m, status, sequence: Math.max(m.sequence, sequence ?? 0), version: m.version + 1 };
    const writeMigration: NamedItem = {
      name: 'migration',
      item: {
        Put: {
          TableName: store.tableName,
          Item: migrationItem(next),
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':v': m.version },
        },
      },
    };
    const target = placement(m, status, m.status);
    if (!isFinal(status) && samePlaces(placement(m, m.status, m.status), target)) {
      // Nothing changes hands (pre-migrating to migrating, say): only the status moves on.
      await commitOrStartOver(store, context, { items: [writeMigration], intent: next });
      return { migration: next, applied: true };
    }
    await moveHolds(store, context, m, next, writeMigration, target);
    return { migration: next, applied: true };
  });
}

/** What holds for the migration now: the instance record (where the status says it is) and the holds that exist. */
async function holdingsNow(store: Store, m: Migration): Promise<{ record?: InstanceRecord; current: Holding[] }> {
  // One snapshot of the migration and of everything that can hold for it, so that the plan is built
  // from a single moment even while another update of the same migration commits.
  const src = m.sourceNodeId;
  const dst = m.destNodeId;
  const [now, recordAtSrc, recordAtDst, oldHold, newHold] = await snapshot(store, [
    migrationKey(m.migrationId),
    instanceKey(src, m.instanceUuid),
    instanceKey(dst, m.instanceUuid),
    holdKey(src, m.migrationId, 'old'),
    holdKey(dst, m.migrationId, 'new'),
  ]);
  if (!now || migrationOf(now).version !== m.version) throw new Contended('the migration changed since it was read');

  // Where the instance record is follows from the status (nothing else moves it), and the holds are
  // whatever exists: a hold dropped by hand is simply not there.
  const expected = placement(m, m.status, m.status).find((h) => h.role === 'instance');
  const recordItem = expected?.nodeId === dst ? recordAtDst : recordAtSrc;
  const record = recordItem ? instanceRecordOf(recordItem) : undefined;
  const current: Holding[] = [];
  if (record && record.migrationId === m.migrationId && expected) current.push(expected);
  if (oldHold) current.push({ nodeId: src, role: 'old', size: 'old' });
  if (newHold) current.push({ nodeId: dst, role: 'new', size: 'new' });
  return { record, current };
}

/** Plans the holds' move to `target` and commits it with the migration's new status, in one transaction. */
async function moveHolds(
  store: Store,
  context: RetryContext<Migration>,
  m: Migration,
  next: Migration,
  writeMigration: NamedItem,
  target: Holding[],
): Promise<void> {
  const { record, current } = await holdingsNow(store, m);
  const state = record ?? { vmState: 'active' as const, taskState: null, osType: null, projectId: null };
  const plan = planMove(m, current, record ? target : target.filter((h) => h.role !== 'instance'), state);
  if ('refused' in plan) throw new InvalidTransition(plan.refused);

  const items: NamedItem[] = [writeMigration];
  if (record) items.push(...recordWrites(store, m, record, plan.remove, plan.create, isFinal(next.status)));
  items.push(...holdWrites(store, m, plan.remove, plan.create));
  // Devices of a side that goes for good are freed on its node (one read of that node's devices).
  const devices: DeviceUpkeep[] = [];
  const freed = new Map<string, Awaited<ReturnType<typeof giveBackDevices>>>();
  for (const h of plan.freed) {
    const addresses = m[h.size].pciDevices;
    if (addresses.length) freed.set(h.nodeId, await giveBackDevices(store, h.nodeId, addresses, m.instanceUuid));
  }
  for (const [nodeId, change] of plan.nodes) {
    const pci = freed.get(nodeId);
    items.push({
      name: `node:${nodeId}`,
      item: nodeUpdate(store, nodeId, {
        amounts: change.amounts,
        stats: change.stats,
        tracked: change.tracked,
        pools: pci?.pools,
      }),
    });
    if (pci) {
      items.push(...deviceWrites(store, nodeId, pci.changes).map((d) => ({ ...d, name: `${d.name}@${nodeId}` })));
      devices.push(pci.upkeep);
    }
  }
  if (record && plan.host !== record.nodeId) {
    items.push({
      name: 'owner',
      item: {
        Update: {
          TableName: store.tableName,
          Key: ownerKey(m.instanceUuid),
          UpdateExpression: 'SET nodeId = :host',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':host': plan.host },
        },
      },
    });
  }
  // The member leaves the node it did not end up on (rule G9).
  if (record && isFinal(next.status)) items.push(...moveEndItems(store, m, record, plan.host));
  await commitOrStartOver(store, context, { items, intent: next, devices });
}

/** The holds the plan removes and creates, each conditioned on being there (or not yet). */
function holdWrites(store: Store, m: Migration, remove: Holding[], create: Holding[]): NamedItem[] {
  const items: NamedItem[] = [];
  for (const h of remove.filter((x) => x.role !== 'instance')) {
    const role = h.role as 'new' | 'old';
    items.push({
      name: `hold:${role}@${h.nodeId}`,
      item: {
        Delete: {
          TableName: store.tableName,
          Key: holdKey(h.nodeId, m.migrationId, role),
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
    });
  }
  for (const h of create.filter((x) => x.role !== 'instance')) {
    const role = h.role as 'new' | 'old';
    items.push({
      name: `hold:${role}@${h.nodeId}`,
      item: {
        Put: {
          TableName: store.tableName,
          Item: holdItem({
            nodeId: h.nodeId,
            migrationId: m.migrationId,
            instanceUuid: m.instanceUuid,
            role,
            ...m[h.size].amounts,
            pciDevices: m[h.size].pciDevices,
          }),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    });
  }
  return items;
}

/**
 * The instance record's part of a status change: it moves between nodes (Delete on one, Put on the
 * other), changes size in place (a same-host resize), or only drops its link to a move that ended.
 * Every write is conditioned on the version read.
 */
function recordWrites(
  store: Store,
  m: Migration,
  record: InstanceRecord,
  remove: Holding[],
  create: Holding[],
  final: boolean,
): NamedItem[] {
  const leaving = remove.find((h) => h.role === 'instance');
  const arriving = create.find((h) => h.role === 'instance');
  const unchanged = { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': record.version } };
  const removeFrom = (nodeId: string): NamedItem => ({
    name: `instance@${nodeId}`,
    item: { Delete: { TableName: store.tableName, Key: instanceKey(nodeId, record.instanceUuid), ...unchanged } },
  });
  if (arriving) {
    const replacing = leaving?.nodeId === arriving.nodeId;
    const put: NamedItem = {
      name: `instance@${arriving.nodeId}`,
      item: {
        Put: {
          TableName: store.tableName,
          Item: instanceItem(movedRecord(m, record, arriving, final)),
          ...(replacing ? unchanged : { ConditionExpression: 'attribute_not_exists(pk)' }),
        },
      },
    };
    return leaving && !replacing ? [put, removeFrom(leaving.nodeId)] : [put];
  }
  if (leaving) return [removeFrom(leaving.nodeId)];
  return final ? [unlinkRecord(store, record)] : [];
}

/** The record as it arrives where `arriving` puts it, in that side's size; unlinked when the move ends. */
function movedRecord(m: Migration, record: InstanceRecord, arriving: Holding, final: boolean): InstanceRecord {
  const size = m[arriving.size];
  const moved: InstanceRecord = {
    ...record,
    nodeId: arriving.nodeId,
    flavor: size.flavor,
    overhead: size.overhead,
    volumeBacked: size.volumeBacked,
    ...size.amounts,
    pciDevices: size.pciDevices,
    version: record.version + 1,
  };
  if (final) delete moved.migrationId;
  return moved;
}

/** A move that ended without moving the record: the record only drops its link to it. */
function unlinkRecord(store: Store, record: InstanceRecord): NamedItem {
  return {
    name: `instance@${record.nodeId}`,
    item: {
      Update: {
        TableName: store.tableName,
        Key: instanceKey(record.nodeId, record.instanceUuid),
        UpdateExpression: 'REMOVE migrationId SET version = :next',
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: { ':v': record.version, ':next': record.version + 1 },
      },
    },
  };
}

import {
  decide,
  isFinal,
  placement,
  planMove,
  type Holding,
  type InstanceRecord,
  type Migration,
  type MigrationStatus,
  type MovePlan,
} from '../domain';
import { InvalidTransition } from '../errors';
import type { Store } from './client';
import { commitOrStartOver, type DeviceUpkeep, type NamedItem } from './commit';
import { deviceWrites, giveBackDevices } from './devices';
import { holdItem, holdKey, instanceItem, instanceKey, migrationItem, ownerKey } from './items';
import { cellReleases } from './numa-cells';
import { numaRecordFields, numaSide } from './numa-claim';
import { getMigrationAndCopy, holdingsFromCopy, holdingsNow, type Holdings } from './reads';
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
 * A migration status update (HTTP or the queue). Reads the migration, whose item carries a copy of the
 * instance record (see migrationItem), then moves the holds to where the new status wants them in ONE
 * transaction over both nodes, the instance record, the holds, the migration and the owner item: no moment
 * exists where a hold is counted twice or lost. The write is conditioned on everything the plan assumed
 * (the record's version, each hold there or not yet, the migration's version): anything that changed since
 * makes it start over, and once a write built on the copy failed, this request reads the record and holds.
 */
export async function changeMigrationStatus(
  store: Store,
  migrationId: string,
  status: MigrationStatus,
  sequence?: number,
  /** Refuses the change from the migration as read, before anything is written (an agent's own-node rule W2). */
  check?: (m: Migration) => Promise<void>,
): Promise<StatusResult> {
  let trustCopy = true;
  return withRetry<StatusResult, Migration>(store, async (context) => {
    const { migration: m, copy } = await getMigrationAndCopy(store, migrationId);
    await check?.(m);
    if (appliedByMe(context.intended, m)) return { migration: m, applied: true };
    const decision = decide(m, status, sequence);
    if (decision.kind === 'ignore') return { migration: m, applied: false };
    if (decision.kind === 'invalid') throw new InvalidTransition(decision.reason);
    const next: Migration = { ...m, status, sequence: Math.max(m.sequence, sequence ?? 0), version: m.version + 1 };
    const target = placement(m, status, m.status);
    if (!isFinal(status) && samePlaces(placement(m, m.status, m.status), target)) {
      // Nothing changes hands (pre-migrating to migrating, say): only the status moves on.
      await commitOrStartOver(store, context, { items: [writeMigration(store, m, next, copy)], intent: next });
      return { migration: next, applied: true };
    }
    const holdings = (trustCopy && holdingsFromCopy(m, copy)) || (await holdingsNow(store, m));
    try {
      await moveHolds(store, context, m, next, target, holdings);
    } catch (error) {
      if (error instanceof Contended && holdings.fromCopy) trustCopy = false;
      throw error;
    }
    return { migration: next, applied: true };
  });
}

/** The migration's new status over the version read, with the copy of the record as this write leaves it. */
function writeMigration(store: Store, m: Migration, next: Migration, copy: InstanceRecord | undefined): NamedItem {
  return {
    name: 'migration',
    item: {
      Put: {
        TableName: store.tableName,
        Item: migrationItem(next, copy),
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: { ':v': m.version },
      },
    },
  };
}

/** The record as the status change leaves it, while it is still linked to the migration (a final status unlinks it). */
function recordAfter(m: Migration, next: Migration, record: InstanceRecord | undefined, plan: MovePlan) {
  if (!record || record.migrationId !== m.migrationId || isFinal(next.status)) return undefined;
  const arriving = plan.create.find((h) => h.role === 'instance');
  if (arriving) return movedRecord(m, record, arriving, false);
  return plan.remove.some((h) => h.role === 'instance') ? undefined : record;
}

/** Plans the holds' move to `target` and commits it with the migration's new status, in one transaction. */
async function moveHolds(
  store: Store,
  context: RetryContext<Migration>,
  m: Migration,
  next: Migration,
  target: Holding[],
  { record, current }: Holdings,
): Promise<void> {
  const plan = planMove(m, current, record ? target : target.filter((h) => h.role !== 'instance'));
  if ('refused' in plan) throw new InvalidTransition(plan.refused);

  const items: NamedItem[] = [writeMigration(store, m, next, recordAfter(m, next, record, plan))];
  if (record) items.push(...recordWrites(store, m, record, plan.remove, plan.create, isFinal(next.status)));
  items.push(...holdWrites(store, m, plan.remove, plan.create));
  // Devices of a side that goes for good are freed on its node (one read of that node's devices).
  const devices: DeviceUpkeep[] = [];
  const freed = new Map<string, Awaited<ReturnType<typeof giveBackDevices>>>();
  for (const h of plan.freed) {
    const addresses = m[h.size].pciDevices;
    if (addresses.length) freed.set(h.nodeId, await giveBackDevices(store, h.nodeId, addresses, m.instanceUuid));
    // Its NUMA cells too (rule NS5): confirm gives back the old pins, revert the new.
    const cells = cellReleases(store, h.nodeId, numaSide(m, h.size)?.taken);
    items.push(...cells.map((c) => ({ ...c, name: `${c.name}@${h.nodeId}` })));
  }
  for (const [nodeId, change] of plan.nodes) {
    const pci = freed.get(nodeId);
    items.push({
      name: `node:${nodeId}`,
      item: nodeUpdate(store, nodeId, {
        amounts: change.amounts,
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
  if (record && isFinal(next.status)) items.push(...moveEndItems(store, m, record, plan.host, plan.remove));
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
            numaTaken: numaSide(m, h.size)?.taken,
            heldAt: Date.now(),
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
  // A record linked to the move must still be: a record released and claimed again could reach the same version.
  const linked = record.migrationId === m.migrationId;
  const unchanged = {
    ConditionExpression: linked ? 'version = :v AND migrationId = :m' : 'version = :v',
    ExpressionAttributeValues: { ':v': record.version, ...(linked ? { ':m': m.migrationId } : {}) },
  };
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
  return final ? [unlinkRecord(store, record, unchanged)] : [];
}

/** The record as it arrives where `arriving` puts it, in that side's size; unlinked when the move ends. */
function movedRecord(m: Migration, record: InstanceRecord, arriving: Holding, final: boolean): InstanceRecord {
  const size = m[arriving.size];
  const { numaTopology: _topology, numaTaken: _taken, ...kept } = record;
  const moved: InstanceRecord = {
    ...kept,
    ...numaRecordFields(numaSide(m, arriving.size)),
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
function unlinkRecord(
  store: Store,
  record: InstanceRecord,
  unchanged: { ConditionExpression: string; ExpressionAttributeValues: Record<string, unknown> },
): NamedItem {
  return {
    name: `instance@${record.nodeId}`,
    item: {
      Update: {
        TableName: store.tableName,
        Key: instanceKey(record.nodeId, record.instanceUuid),
        UpdateExpression: 'REMOVE migrationId SET version = :next',
        ConditionExpression: unchanged.ConditionExpression,
        ExpressionAttributeValues: { ...unchanged.ExpressionAttributeValues, ':next': record.version + 1 },
      },
    },
  };
}

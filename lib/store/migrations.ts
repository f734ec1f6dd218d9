import { BatchGetCommand, GetCommand, TransactGetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import {
  claimGuards,
  decide,
  fingerprint,
  instanceUsage,
  isFinal,
  placement,
  planMove,
  scale,
  type Flavor,
  type Holding,
  type InstanceRecord,
  type LimitOverrides,
  type Migration,
  type MigrationStatus,
  type MoveType,
  type Overhead,
  type PciRequest,
  type Sizing,
} from '../domain';
import { InstanceConflict, InstanceNotFound, InvalidTransition, MigrationNotFound } from '../errors';
import type { Store } from './client';
import {
  holdItem,
  holdKey,
  holdOf,
  instanceItem,
  instanceKey,
  instanceRecordOf,
  migrationItem,
  migrationKey,
  migrationOf,
  ownerKey,
} from './items';
import { devicesWritten, deviceWrites, forgetDevices, giveBackDevices, takeDevices } from './devices';
import { Contended, isAmbiguous, noteIfAmbiguous, withRetry } from './retry';
import { cancellation, commitOrStartOver, guardConditions, nodeUpdate, refusedByNode, type TransactItem } from './writes';

export interface MoveRequest {
  migrationId: string;
  instanceUuid: string;
  moveType: MoveType;
  sourceNodeId: string;
  /** Required for a resize; a migration or evacuation keeps the instance's flavor. */
  newFlavor?: Flavor;
  /** The destination's overhead for the instance; the instance's current overhead when left out. */
  overhead?: Overhead;
  limits: LimitOverrides;
  pciRequests: PciRequest[];
}

export interface MoveResult {
  created: boolean;
  migration: Migration;
}

/** Several items read as of one moment (TransactGetItems), in the order of `keys` (undefined where absent). */
async function snapshot(store: Store, keys: { pk: string; sk: string }[]): Promise<(Record<string, unknown> | undefined)[]> {
  const unique = [...new Map(keys.map((k) => [`${k.pk}|${k.sk}`, k])).values()];
  const out = await withRetry(() =>
    store.doc.send(new TransactGetCommand({ TransactItems: unique.map((Key) => ({ Get: { TableName: store.tableName, Key } })) })),
  );
  const found = new Map(
    (out.Responses ?? []).flatMap((r) => (r.Item ? [[`${String(r.Item.pk)}|${String(r.Item.sk)}`, r.Item] as const] : [])),
  );
  return keys.map((k) => found.get(`${k.pk}|${k.sk}`));
}

/** Consistent reads of several items at once, in the order of `keys` (undefined where absent). */
async function readItems(store: Store, keys: { pk: string; sk: string }[]): Promise<(Record<string, unknown> | undefined)[]> {
  const unique = [...new Map(keys.map((k) => [`${k.pk}|${k.sk}`, k])).values()];
  const out = await withRetry(() =>
    store.doc.send(new BatchGetCommand({ RequestItems: { [store.tableName]: { Keys: unique, ConsistentRead: true } } })),
  );
  // A batch of a few small items comes back whole; should DynamoDB hold some back, read again.
  if (Object.keys(out.UnprocessedKeys ?? {}).length) throw new Contended('batch read was throttled');
  const found = new Map((out.Responses?.[store.tableName] ?? []).map((i) => [`${String(i.pk)}|${String(i.sk)}`, i]));
  return keys.map((k) => found.get(`${k.pk}|${k.sk}`));
}

function samePlaces(a: Holding[], b: Holding[]): boolean {
  const keys = (hs: Holding[]) => hs.map((h) => `${h.nodeId}|${h.role}|${h.size}`).sort().join(',');
  return keys(a) === keys(b);
}

function sizing(flavor: Flavor, overhead: Overhead, volumeBacked: boolean, pciDevices: string[]): Sizing {
  return { flavor, overhead, volumeBacked, amounts: instanceUsage(flavor, overhead, volumeBacked), pciDevices };
}

/**
 * Claims the destination of a move (Nova's resize_claim / rebuild_claim): the destination's hold, the
 * migration record and the instance's link to it in ONE transaction, after one read of the instance.
 * The test is the instance claim's: the new size against the destination's limits.
 */
export async function claimMove(store: Store, destNodeId: string, request: MoveRequest): Promise<MoveResult> {
  const print = fingerprint({ destNodeId, ...request });
  let maybeLanded = false;
  return withRetry(async () => {
    const [existing, item] = await readItems(store, [
      migrationKey(request.migrationId),
      instanceKey(request.sourceNodeId, request.instanceUuid),
    ]);
    if (existing) {
      const m = migrationOf(existing);
      if (m.fingerprint === print) return { created: maybeLanded, migration: m };
      throw new InstanceConflict(`Migration ${request.migrationId} already exists with a different request.`);
    }
    if (!item) throw new InstanceNotFound(request.sourceNodeId, request.instanceUuid);
    const instance = instanceRecordOf(item);
    if (instance.migrationId) {
      throw new InstanceConflict(`Instance ${instance.instanceUuid} is already moving (migration ${instance.migrationId}).`);
    }
    const old = sizing(instance.flavor, instance.overhead, instance.volumeBacked, instance.pciDevices);
    const flavor = request.newFlavor ?? instance.flavor;
    const overhead = request.overhead ?? instance.overhead;
    const sized = { flavor, overhead, volumeBacked: instance.volumeBacked, limits: request.limits, pciRequests: request.pciRequests };
    // The new size's devices come from the destination (spec O6 step 4).
    const pci = request.pciRequests.length ? await takeDevices(store, destNodeId, { ...sized, instanceUuid: instance.instanceUuid }) : undefined;
    const next = sizing(flavor, overhead, instance.volumeBacked, pci?.chosen ?? []);
    const migration: Migration = {
      migrationId: request.migrationId,
      instanceUuid: instance.instanceUuid,
      moveType: request.moveType,
      sourceNodeId: request.sourceNodeId,
      destNodeId,
      old,
      new: next,
      status: 'pre-migrating',
      sequence: 0,
      fingerprint: print,
      version: 1,
    };
    const items: TransactItem[] = [
      nodeUpdate(store, destNodeId, {
        amounts: next.amounts, tracked: 1, conditions: guardConditions(claimGuards(next.amounts, request.limits)), pools: pci?.pools,
      }),
      {
        Put: {
          TableName: store.tableName,
          Item: holdItem({
            nodeId: destNodeId, migrationId: migration.migrationId, instanceUuid: instance.instanceUuid, role: 'new',
            ...next.amounts, pciDevices: next.pciDevices,
          }),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      { Put: { TableName: store.tableName, Item: migrationItem(migration), ConditionExpression: 'attribute_not_exists(pk)' } },
      {
        Update: {
          TableName: store.tableName,
          Key: instanceKey(instance.nodeId, instance.instanceUuid),
          UpdateExpression: 'SET migrationId = :m, version = :next',
          ConditionExpression: 'version = :v AND attribute_not_exists(migrationId)',
          ExpressionAttributeValues: { ':m': migration.migrationId, ':v': instance.version, ':next': instance.version + 1 },
        },
      },
      ...(pci ? deviceWrites(store, destNodeId, pci.changes) : []),
    ];
    try {
      await store.doc.send(new TransactWriteCommand({ TransactItems: items }));
      if (pci) devicesWritten(destNodeId, pci.after, pci.changes);
      pci?.done();
      return { created: true, migration };
    } catch (error) {
      pci?.done();
      if (isAmbiguous(error)) maybeLanded = true;
      const reasons = cancellation(error);
      if (!reasons || reasons.some((r) => r.Code === 'TransactionConflict')) throw error;
      const [node, ...others] = reasons;
      // The migration, the instance or a chosen device changed under us (a retry, a state change, a
      // concurrent claim): read again.
      if (others.some((r) => r?.Code === 'ConditionalCheckFailed')) {
        forgetDevices(destNodeId);
        throw new Contended('move claim raced');
      }
      if (node?.Code === 'ConditionalCheckFailed') refusedByNode(destNodeId, node, sized);
      throw error;
    }
  });
}

export async function getMigration(store: Store, migrationId: string): Promise<Migration> {
  const out = await withRetry(() =>
    store.doc.send(new GetCommand({ TableName: store.tableName, Key: migrationKey(migrationId), ConsistentRead: true })),
  );
  if (!out.Item) throw new MigrationNotFound(migrationId);
  return migrationOf(out.Item);
}

export interface StatusResult {
  migration: Migration;
  /** False when the message was ignored (stale, repeated, out of order, or after a final status). */
  applied: boolean;
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
  // A commit whose answer was lost may have landed: the retry then finds this very change and says so.
  let attempted: Migration | undefined;
  const remember = (next: Migration) => noteIfAmbiguous(() => (attempted = next));
  return withRetry(async () => {
    const m = await getMigration(store, migrationId);
    if (attempted && m.version === attempted.version && m.status === attempted.status && m.sequence === attempted.sequence) {
      return { migration: m, applied: true };
    }
    const decision = decide(m, status, sequence);
    if (decision.kind === 'ignore') return { migration: m, applied: false };
    if (decision.kind === 'invalid') throw new InvalidTransition(decision.reason);
    const next: Migration = { ...m, status, sequence: Math.max(m.sequence, sequence ?? 0), version: m.version + 1 };
    const writeMigration: TransactItem = {
      Put: {
        TableName: store.tableName,
        Item: migrationItem(next),
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: { ':v': m.version },
      },
    };
    const target = placement(m, status, m.status);
    if (!isFinal(status) && samePlaces(placement(m, m.status, m.status), target)) {
      // Nothing changes hands (pre-migrating to migrating, say): only the status moves on.
      await commitOrStartOver(store, [writeMigration]).catch(remember(next));
      return { migration: next, applied: true };
    }

    // One snapshot of the migration and of everything that can hold for it, so that the plan below is
    // built from a single moment even while another update of the same migration commits.
    const src = m.sourceNodeId;
    const dst = m.destNodeId;
    const [now, recordAtSrc, recordAtDst, oldHold, newHold] = await snapshot(store, [
      migrationKey(migrationId),
      instanceKey(src, m.instanceUuid),
      instanceKey(dst, m.instanceUuid),
      holdKey(src, migrationId, 'old'),
      holdKey(dst, migrationId, 'new'),
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

    const state = record ?? { vmState: 'active' as const, taskState: null, osType: null, projectId: null };
    const plan = planMove(m, current, record ? target : target.filter((h) => h.role !== 'instance'), state);
    if ('refused' in plan) throw new InvalidTransition(plan.refused);

    const items: TransactItem[] = [writeMigration];
    if (record) items.push(...recordWrites(store, m, record, plan.remove, plan.create, isFinal(status)));
    for (const h of plan.remove.filter((x) => x.role !== 'instance')) {
      items.push({
        Delete: { TableName: store.tableName, Key: holdKey(h.nodeId, m.migrationId, h.role as 'new' | 'old'), ConditionExpression: 'attribute_exists(pk)' },
      });
    }
    for (const h of plan.create.filter((x) => x.role !== 'instance')) {
      const role = h.role as 'new' | 'old';
      items.push({
        Put: {
          TableName: store.tableName,
          Item: holdItem({
            nodeId: h.nodeId, migrationId: m.migrationId, instanceUuid: m.instanceUuid, role,
            ...m[h.size].amounts, pciDevices: m[h.size].pciDevices,
          }),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
    }
    // Devices of a side that goes for good are freed on its node (one read of that node's devices).
    const freed = new Map<string, Awaited<ReturnType<typeof giveBackDevices>>>();
    for (const h of plan.freed) {
      const addresses = m[h.size].pciDevices;
      if (addresses.length) freed.set(h.nodeId, await giveBackDevices(store, h.nodeId, addresses, m.instanceUuid));
    }
    for (const [nodeId, change] of plan.nodes) {
      const pci = freed.get(nodeId);
      items.push(nodeUpdate(store, nodeId, { amounts: change.amounts, stats: change.stats, tracked: change.tracked, pools: pci?.pools }));
      if (pci) items.push(...deviceWrites(store, nodeId, pci.changes));
    }
    if (record && plan.host !== record.nodeId) {
      items.push({
        Update: {
          TableName: store.tableName,
          Key: ownerKey(m.instanceUuid),
          UpdateExpression: 'SET nodeId = :host',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':host': plan.host },
        },
      });
    }
    await commitOrStartOver(store, items).catch((error: unknown) => {
      for (const nodeId of freed.keys()) forgetDevices(nodeId);
      remember(next)(error);
    });
    for (const [nodeId, pci] of freed) devicesWritten(nodeId, pci.after, pci.changes);
    return { migration: next, applied: true };
  });
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
): TransactItem[] {
  const leaving = remove.find((h) => h.role === 'instance');
  const arriving = create.find((h) => h.role === 'instance');
  const unchanged = { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': record.version } };
  const items: TransactItem[] = [];
  if (arriving) {
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
    const replacing = leaving?.nodeId === arriving.nodeId;
    items.push({
      Put: {
        TableName: store.tableName,
        Item: instanceItem(moved),
        ...(replacing ? unchanged : { ConditionExpression: 'attribute_not_exists(pk)' }),
      },
    });
    if (leaving && !replacing) {
      items.push({ Delete: { TableName: store.tableName, Key: instanceKey(leaving.nodeId, record.instanceUuid), ...unchanged } });
    }
  } else if (leaving) {
    items.push({ Delete: { TableName: store.tableName, Key: instanceKey(leaving.nodeId, record.instanceUuid), ...unchanged } });
  } else if (final) {
    items.push({
      Update: {
        TableName: store.tableName,
        Key: instanceKey(record.nodeId, record.instanceUuid),
        UpdateExpression: 'REMOVE migrationId SET version = :next',
        ...unchanged,
        ExpressionAttributeValues: { ':v': record.version, ':next': record.version + 1 },
      },
    });
  }
  return items;
}

/**
 * Nova's drop_move_claim on one node: releases the move's hold of the new (or old) size there. The
 * migration's status does not change; a later status that needs the dropped hold is refused. False if
 * there was no such hold.
 */
export async function dropMoveClaim(store: Store, nodeId: string, migrationId: string, role: 'new' | 'old'): Promise<boolean> {
  return withRetry(async () => {
    const out = await store.doc.send(
      new GetCommand({ TableName: store.tableName, Key: holdKey(nodeId, migrationId, role), ConsistentRead: true }),
    );
    if (!out.Item) return false;
    const hold = holdOf(out.Item);
    const pci = hold.pciDevices.length ? await giveBackDevices(store, nodeId, hold.pciDevices, hold.instanceUuid) : undefined;
    await commitOrStartOver(store, [
      { Delete: { TableName: store.tableName, Key: holdKey(nodeId, migrationId, role), ConditionExpression: 'attribute_exists(pk)' } },
      nodeUpdate(store, nodeId, { amounts: scale(hold, -1), tracked: -1, pools: pci?.pools }),
      ...(pci ? deviceWrites(store, nodeId, pci.changes) : []),
    ]).catch((error: unknown) => {
      if (pci) forgetDevices(nodeId);
      throw error;
    });
    if (pci) devicesWritten(nodeId, pci.after, pci.changes);
    return true;
  });
}

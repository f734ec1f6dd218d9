// Reads of several items at once, for the moves.
import { BatchGetCommand, GetCommand, TransactGetCommand } from '@aws-sdk/lib-dynamodb';
import { placement, type Holding, type InstanceRecord, type Migration } from '../domain';
import { MigrationNotFound } from '../errors';
import type { Store } from './client';
import { holdKey, instanceKey, instanceRecordOf, migrationKey, migrationOf, recordCopyOf } from './items';
import { Contended, withRetry } from './retry';

type Key = { pk: string; sk: string };

/** Several items read as of one moment (TransactGetItems), in the order of `keys` (undefined where absent). */
export async function snapshot(store: Store, keys: Key[]): Promise<(Record<string, unknown> | undefined)[]> {
  const unique = [...new Map(keys.map((k) => [`${k.pk}|${k.sk}`, k])).values()];
  const out = await withRetry(store, () =>
    store.doc.send(
      new TransactGetCommand({ TransactItems: unique.map((Key) => ({ Get: { TableName: store.tableName, Key } })) }),
    ),
  );
  const found = new Map(
    (out.Responses ?? []).flatMap((r) =>
      r.Item ? [[`${String(r.Item.pk)}|${String(r.Item.sk)}`, r.Item] as const] : [],
    ),
  );
  return keys.map((k) => found.get(`${k.pk}|${k.sk}`));
}

/** Consistent reads of several items at once, in the order of `keys` (undefined where absent). */
export async function readItems(store: Store, keys: Key[]): Promise<(Record<string, unknown> | undefined)[]> {
  const unique = [...new Map(keys.map((k) => [`${k.pk}|${k.sk}`, k])).values()];
  const out = await withRetry(store, () =>
    store.doc.send(
      new BatchGetCommand({ RequestItems: { [store.tableName]: { Keys: unique, ConsistentRead: true } } }),
    ),
  );
  // A batch of a few small items comes back whole; should DynamoDB hold some back, read again.
  if (Object.keys(out.UnprocessedKeys ?? {}).length) throw new Contended('batch read was throttled');
  const found = new Map((out.Responses?.[store.tableName] ?? []).map((i) => [`${String(i.pk)}|${String(i.sk)}`, i]));
  return keys.map((k) => found.get(`${k.pk}|${k.sk}`));
}

export async function getMigration(store: Store, migrationId: string): Promise<Migration> {
  return (await getMigrationAndCopy(store, migrationId)).migration;
}

/** The migration and its item's copy of the instance record (see migrationItem), in one GetItem. */
export async function getMigrationAndCopy(
  store: Store,
  migrationId: string,
): Promise<{ migration: Migration; copy?: InstanceRecord }> {
  const out = await withRetry(store, () =>
    store.doc.send(
      new GetCommand({ TableName: store.tableName, Key: migrationKey(migrationId), ConsistentRead: true }),
    ),
  );
  if (!out.Item) throw new MigrationNotFound(migrationId);
  return { migration: migrationOf(out.Item), copy: recordCopyOf(out.Item) };
}

/** What holds for a migration now, as a status change plans from it: the instance record and the holds. */
export interface Holdings {
  record?: InstanceRecord;
  current: Holding[];
  /** Taken from the migration's copy, unread: a write built on it that fails a condition reads instead. */
  fromCopy: boolean;
}

/**
 * What holds for the migration as its copy says, without a read: the record where the status puts it, and
 * every hold the status has (the writes are conditioned on them, so a dropped hold only fails the write).
 * Undefined when the copy cannot say (none, or not where the status puts the instance).
 */
export function holdingsFromCopy(m: Migration, copy: InstanceRecord | undefined): Holdings | undefined {
  const current = placement(m, m.status, m.status);
  const at = current.find((h) => h.role === 'instance');
  if (!copy || copy.migrationId !== m.migrationId || copy.nodeId !== at?.nodeId) return undefined;
  return { record: copy, current, fromCopy: true };
}

/** What holds for the migration now, read: the instance record (where the status says it is) and the holds that exist. */
export async function holdingsNow(store: Store, m: Migration): Promise<Holdings> {
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
  return { record, current, fromCopy: false };
}

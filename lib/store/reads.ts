// Reads of several items at once, for the moves.
import { BatchGetCommand, GetCommand, TransactGetCommand } from '@aws-sdk/lib-dynamodb';
import type { Migration } from '../domain';
import { MigrationNotFound } from '../errors';
import type { Store } from './client';
import { migrationKey, migrationOf } from './items';
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
  const out = await withRetry(store, () =>
    store.doc.send(
      new GetCommand({ TableName: store.tableName, Key: migrationKey(migrationId), ConsistentRead: true }),
    ),
  );
  if (!out.Item) throw new MigrationNotFound(migrationId);
  return migrationOf(out.Item);
}

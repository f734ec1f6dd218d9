// The one place a write of named items is sent: named items in, an outcome by name out, with the retry's
// "may have committed" note and the device and cell caches' upkeep done here for every write.
import {
  DeleteCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { DeviceChange, PciDevice } from '../domain';
import type { Store } from './client';
import { classifyDelete, classifyStartOver, conditionFailed, type DeleteOutcome } from './outcomes';
import { Contended, withRetry, type RetryContext } from './retry';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** An item of a transaction under the name its outcome is read by ('node', 'instance', `device:${address}`...). */
export interface NamedItem {
  name: string;
  item: TransactItem;
}

export interface CancelReason {
  Code?: string;
  Item?: Record<string, unknown>;
}

/** The cancellation reasons of a transaction, by the name of the item each belongs to. */
export type Reasons = ReadonlyMap<string, CancelReason>;

/** DynamoDB answers reasons in the order of the items sent: this maps them back to the items' names. */
export function reasonsByName(
  items: readonly NamedItem[],
  reasons: readonly CancelReason[],
): Map<string, CancelReason> {
  const names = new Set<string>();
  return new Map(
    items.map(({ name }, i) => {
      if (names.has(name)) throw new Error(`two items of one transaction are both named ${name}`);
      names.add(name);
      return [name, reasons[i] ?? {}] as const;
    }),
  );
}

export function cancellation(error: unknown): CancelReason[] | undefined {
  const e = error as { name?: string; CancellationReasons?: CancelReason[] };
  return e?.name === 'TransactionCanceledException' ? (e.CancellationReasons ?? []) : undefined;
}

/**
 * A write of one item is sent as that item's own PutItem, UpdateItem or DeleteItem: as atomic and as
 * conditional as a transaction of one, at half its write units (rule CU2).
 */
async function send(store: Store, items: readonly NamedItem[]): Promise<void> {
  const only = items.length === 1 ? items[0]?.item : undefined;
  if (only?.Put) await store.doc.send(new PutCommand(only.Put));
  else if (only?.Update) await store.doc.send(new UpdateCommand(only.Update));
  else if (only?.Delete) await store.doc.send(new DeleteCommand(only.Delete));
  else await store.doc.send(new TransactWriteCommand({ TransactItems: items.map((i) => i.item) }));
}

/** A single-item write's failed condition, as the reasons of a cancelled transaction of that one item. */
function conditionReasons(error: unknown): CancelReason[] | undefined {
  if (!conditionFailed(error)) return undefined;
  const { Item } = error as { Item?: Record<string, unknown> };
  return [{ Code: 'ConditionalCheckFailed', ...(Item ? { Item } : {}) }];
}

export interface DeviceUpkeep {
  nodeId: string;
  /** The node's devices once the write commits. */
  after: Map<string, PciDevice>;
  /** With them, the cache applies the changes to its own copy (see DeviceCache.written). */
  changes?: DeviceChange[];
  /** Ends the cache's mark that the write is in flight (DeviceCache.hold), whatever its outcome. */
  done?: () => void;
  /**
   * A claim's take: only a lost race changes the copy ('learn' corrects it from the cancellation the first
   * time, then 'forget'). Without it (devices given back), any failure forgets.
   */
  take?: { onRace: 'learn' | 'forget'; learn: (reasons: Reasons) => void };
}

export interface Write<I> {
  items: NamedItem[];
  /** What the write makes true, kept by the retry if its answer is lost (see RetryContext). */
  intent?: I;
  devices?: DeviceUpkeep[];
  /** A node whose device copy a lost race drops even when this write changes none of its devices. */
  forgetOnRace?: string;
}

export type Committed = { kind: 'committed' };
/** A classifier's answer when the reasons explain nothing: the original error is thrown. */
export type Unexplained = { kind: 'unexplained' };

/** The cache after a failed write: holds end; given-back devices are forgotten; a lost race corrects the copy. */
function afterFailure(
  store: Store,
  context: { races: number },
  devices: DeviceUpkeep[],
  reasons: Reasons | undefined,
  raced: boolean,
): void {
  if (raced) context.races++;
  for (const d of devices) {
    d.done?.();
    if (!d.take) store.devices.forget(d.nodeId);
    else if (raced && reasons && d.take.onRace === 'learn' && context.races === 1) d.take.learn(reasons);
    else if (raced) store.devices.forget(d.nodeId);
  }
}

/**
 * Sends the write's items in ONE TransactWriteItems (one item alone: its own write). A cancellation whose
 * reasons all are conditions (no transaction conflict) goes to `classify` by name; every other failure is
 * thrown for the retry.
 */
export async function commit<O extends { kind: string }, I>(
  store: Store,
  context: RetryContext<I>,
  write: Write<I>,
  classify: (reasons: Reasons) => O | Unexplained,
): Promise<Exclude<O, Unexplained> | Committed> {
  const devices = write.devices ?? [];
  try {
    await send(store, write.items);
  } catch (error) {
    context.failed(error, write.intent);
    const codes = cancellation(error) ?? conditionReasons(error);
    const reasons =
      codes && !codes.some((r) => r.Code === 'TransactionConflict') ? reasonsByName(write.items, codes) : undefined;
    const outcome = reasons ? classify(reasons) : undefined;
    afterFailure(store, context, devices, reasons, outcome?.kind === 'raced');
    store.numaCells.failed(write.items, reasons);
    if (outcome?.kind === 'raced' && write.forgetOnRace !== undefined) store.devices.forget(write.forgetOnRace);
    if (!outcome || outcome.kind === 'unexplained') throw error;
    return outcome as Exclude<O, Unexplained>;
  }
  for (const d of devices) {
    store.devices.written(d.nodeId, d.after, d.changes);
    d.done?.();
  }
  store.numaCells.committed(write.items);
  return { kind: 'committed' };
}

/** Commits a write that was built from a read; if anything changed since (see classifyStartOver), reads again. */
export async function commitOrStartOver<I>(store: Store, context: RetryContext<I>, write: Write<I>): Promise<void> {
  const outcome = await commit(store, context, write, classifyStartOver);
  if (outcome.kind === 'changed') throw new Contended('a record changed since it was read');
}

/** Sends a single-item write (UpdateItem, DeleteItem) under the same "may have committed" note as commit. */
export async function sendOne<T, I>(
  context: RetryContext<I>,
  intent: I | undefined,
  send: () => Promise<T>,
): Promise<T> {
  try {
    return await send();
  } catch (error) {
    context.failed(error, intent);
    throw error;
  }
}

/** Deletes the item if it exists with `count` at 0: one conditional DeleteItem, its outcome by classifyDelete. */
export async function deleteIfUnused(store: Store, Key: Record<string, string>, count: string): Promise<DeleteOutcome> {
  return withRetry<DeleteOutcome, true>(store, async (context) => {
    try {
      await sendOne(context, true, () =>
        store.doc.send(
          new DeleteCommand({
            TableName: store.tableName,
            Key,
            ConditionExpression: 'attribute_exists(pk) AND #count = :zero',
            ExpressionAttributeNames: { '#count': count },
            ExpressionAttributeValues: { ':zero': 0 },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return { kind: 'committed' };
    } catch (error) {
      if (!conditionFailed(error)) throw error;
      return classifyDelete((error as { Item?: Record<string, unknown> }).Item, context.intended.length > 0);
    }
  });
}

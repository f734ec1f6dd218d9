import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  consumesNothing,
  keepsConsuming,
  recordAmounts,
  scale,
  type InstanceRecord,
  type InstanceState,
  type NodeState,
  type PoolDelta,
} from '../domain';
import { InstanceNotFound, NodeNotFound, Unavailable } from '../errors';
import type { Store } from './client';
import { commitOrStartOver, type NamedItem } from './commit';
import { deviceWrites, giveBackDevices } from './devices';
import { Expression } from './expression';
import {
  HOLD_PREFIX,
  holdOf,
  INSTANCE_PREFIX,
  instanceItem,
  instanceKey,
  instanceRecordOf,
  nodeKey,
  nodeStateOf,
  type HoldItem,
} from './items';
import { changeMigrationStatus } from './migration-status';
import { cellReleases } from './numa-cells';
import { conditionFailed } from './outcomes';
import { readNodePartition } from './query';
import { withRetry, type RetryContext } from './retry';
import { leaveItems } from './server-groups';
import { RELEASE_WINDOW_S, tombstoneUpdate } from './tombstone';
import { nodeUpdate } from './writes';

export async function getInstance(store: Store, nodeId: string, instanceUuid: string): Promise<InstanceRecord> {
  const record = await findInstance(store, nodeId, instanceUuid);
  if (!record) throw new InstanceNotFound(nodeId, instanceUuid);
  return record;
}

async function findInstance(store: Store, nodeId: string, instanceUuid: string): Promise<InstanceRecord | undefined> {
  const out = await withRetry(store, () =>
    store.doc.send(
      new GetCommand({ TableName: store.tableName, Key: instanceKey(nodeId, instanceUuid), ConsistentRead: true }),
    ),
  );
  return out.Item ? instanceRecordOf(out.Item) : undefined;
}

/** The node and every instance it tracks, from one strongly consistent Query of the node's partition. */
export async function nodeLedger(
  store: Store,
  nodeId: string,
): Promise<{ node: NodeState; instances: InstanceRecord[]; holds: HoldItem[] }> {
  const items = await readNodePartition(store, nodeId);
  const nodeItem = items.find((i) => i.sk === nodeKey(nodeId).sk);
  if (!nodeItem) throw new NodeNotFound(nodeId);
  const instances = items.filter((i) => String(i.sk).startsWith(INSTANCE_PREFIX)).map(instanceRecordOf);
  // The moves' holds too, so that a node's page can show what is coming in (rule L2).
  const holds = items.filter((i) => String(i.sk).startsWith(HOLD_PREFIX)).map(holdOf);
  return { node: nodeStateOf(nodeItem), instances, holds };
}

export type StateChange = Partial<InstanceState>;

export interface ChangeResult {
  record: InstanceRecord;
  /** True when the change released the instance's resources (a state that consumes nothing, rule M9). */
  released: boolean;
}

/**
 * Whether finding no record is the result of this request's own release whose answer was lost: then
 * that release's record is the answer.
 */
export const releasedByMe = (intended: readonly InstanceRecord[], found: InstanceRecord | undefined) =>
  found === undefined ? intended.at(-1) : undefined;

/**
 * Nova's update_usage: the instance changed state. Stats follow; entering a releasing state frees
 * exactly what the claim took and stops tracking the instance. A change that cannot release the claim is one
 * UpdateItem of the fields it sets, with no read (rule O11); any other reads the record, then writes once on
 * the version read, and a concurrent change makes it start over.
 */
export async function changeInstance(
  store: Store,
  nodeId: string,
  instanceUuid: string,
  change: StateChange,
): Promise<ChangeResult> {
  const keeps = keepsConsuming(change);
  const record = keeps && (await changeInPlace(store, nodeId, instanceUuid, change, keeps.unless));
  if (record) return { record, released: false };
  return endingMovesFirst<ChangeResult>(store, () =>
    withRetry<ChangeResult | { moving: string }, InstanceRecord>(store, async (context) => {
      const before = await findInstance(store, nodeId, instanceUuid);
      const mine = releasedByMe(context.intended, before);
      if (mine) return { record: mine, released: true };
      if (!before) throw new InstanceNotFound(nodeId, instanceUuid);
      const after: InstanceRecord = { ...before, ...change, version: before.version + 1 };
      const released = consumesNothing(after);
      if (released) {
        if (before.migrationId) return { moving: before.migrationId };
        await commitRelease(store, context, before, after);
        return { record: after, released };
      }
      // Only the record changes: the node's stats are read from the records (rule S6).
      const items: NamedItem[] = [
        {
          name: 'instance',
          item: {
            Put: {
              TableName: store.tableName,
              Item: instanceItem(after),
              ConditionExpression: 'version = :v',
              ExpressionAttributeValues: { ':v': before.version },
            },
          },
        },
      ];
      // Not an intent: a retry after a lost answer finds the change made and makes it again, changing nothing.
      await commitOrStartOver(store, context, { items });
      return { record: after, released };
    }),
  );
}

const STATE_FIELDS = ['vmState', 'taskState', 'osType', 'projectId'] as const;

/**
 * Sets the change's fields and bumps the version (so a move's copy of the record is known stale), on the record
 * as it is: changes to different fields, at once, all land. Undefined when the record is in a vm state in which
 * the change might release the claim (`unless`): it is then read first.
 */
async function changeInPlace(
  store: Store,
  nodeId: string,
  instanceUuid: string,
  change: StateChange,
  unless: readonly string[],
): Promise<InstanceRecord | undefined> {
  const e = new Expression();
  const set = STATE_FIELDS.filter((f) => change[f] !== undefined).map((f) => `${e.name(f)} = ${e.value(change[f])}`);
  const safe = unless.length ? [`NOT ${e.name('vmState')} IN (${unless.map((v) => e.value(v)).join(', ')})`] : [];
  const input = {
    TableName: store.tableName,
    Key: instanceKey(nodeId, instanceUuid),
    UpdateExpression: `${set.length ? `SET ${set.join(', ')} ` : ''}ADD ${e.name('version')} ${e.value(1)}`,
    ConditionExpression: ['attribute_exists(pk)', ...safe].join(' AND '),
    ReturnValues: 'ALL_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    ...e.params(),
  } as const;
  try {
    const out = await withRetry(store, () => store.doc.send(new UpdateCommand(input)));
    return instanceRecordOf(out.Attributes ?? {});
  } catch (error) {
    if (!conditionFailed(error)) throw error;
    if (!(error as { Item?: unknown }).Item) throw new InstanceNotFound(nodeId, instanceUuid);
    return undefined;
  }
}

/**
 * Aborts a claim or forgets a deleted instance: frees exactly what it holds, a move in progress
 * included (the move is cancelled first, then the instance released). False if it was not tracked.
 */
export async function releaseInstance(store: Store, nodeId: string, instanceUuid: string): Promise<boolean> {
  return endingMovesFirst<boolean>(store, () =>
    withRetry<boolean | { moving: string }, InstanceRecord>(store, async (context) => {
      const before = await findInstance(store, nodeId, instanceUuid);
      if (!before) return false;
      if (before.migrationId) return { moving: before.migrationId };
      await commitRelease(store, context, before, before, false);
      return true;
    }),
  );
}

/**
 * Runs a release; if the instance turns out to be moving, cancels the move (which releases the move's
 * holds in its own transaction) and runs the release again. Two steps, each safe to repeat: a crash
 * between them leaves a cancelled move and a tracked instance, and the retry finishes the job.
 */
async function endingMovesFirst<T>(store: Store, release: () => Promise<T | { moving: string }>): Promise<T> {
  for (let round = 0; round < 3; round++) {
    const outcome = await release();
    if (!(outcome && typeof outcome === 'object' && 'moving' in outcome)) return outcome as T;
    await changeMigrationStatus(store, outcome.moving, 'cancelled');
  }
  // A new move started after each cancellation: give up for now rather than chase it.
  throw new Unavailable(1);
}

/** The items of a release: the record goes, its owner becomes a tombstone, the node gives back what the record holds. */
export function releaseItems(
  store: Store,
  before: InstanceRecord,
  pci?: { pools: Map<string, PoolDelta>; devices: NamedItem[] },
): NamedItem[] {
  return [
    {
      name: 'instance',
      item: {
        Delete: {
          TableName: store.tableName,
          Key: instanceKey(before.nodeId, before.instanceUuid),
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':v': before.version },
        },
      },
    },
    // A tombstone, not a Delete: the claim's late retry must find it (rule O5).
    { name: 'owner', item: tombstoneUpdate(store.tableName, before, store.releaseWindowS ?? RELEASE_WINDOW_S) },
    {
      name: 'node',
      item: nodeUpdate(store, before.nodeId, {
        amounts: scale(recordAmounts(before), -1),
        tracked: -1,
        pools: pci?.pools,
      }),
    },
    ...(pci?.devices ?? []),
    ...leaveItems(store, before),
    ...cellReleases(store, before.nodeId, before.numaTaken),
  ];
}

/**
 * Deletes the record, leaves its owner's tombstone and gives back what the record holds, conditioned on the version
 * read. `remember`: a release whose answer is lost may have committed, and a retry that then finds no
 * record answers with it (a PATCH to a releasing state; DELETE answers alike either way).
 */
async function commitRelease(
  store: Store,
  context: RetryContext<InstanceRecord>,
  before: InstanceRecord,
  after: InstanceRecord,
  remember = true,
): Promise<void> {
  const pci = before.pciDevices.length
    ? await giveBackDevices(store, before.nodeId, before.pciDevices, before.instanceUuid)
    : undefined;
  const devices = pci ? { pools: pci.pools, devices: deviceWrites(store, before.nodeId, pci.changes) } : undefined;
  await commitOrStartOver(store, context, {
    items: releaseItems(store, before, devices),
    intent: remember ? after : undefined,
    devices: pci ? [pci.upkeep] : [],
  });
}

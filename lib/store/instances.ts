import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import {
  planClaim,
  recordAmounts,
  RELEASING_STATES,
  scale,
  statsDelta,
  type ClaimRequest,
  type InstanceRecord,
  type InstanceState,
  type NodeState,
} from '../domain';
import { InstanceConflict, InstanceNotFound, InsufficientResources, NodeNotFound, Unavailable } from '../errors';
import type { Store } from './client';
import {
  INSTANCE_PREFIX,
  instanceItem,
  instanceKey,
  instanceRecordOf,
  nodeKey,
  nodeStateOf,
  ownerKey,
} from './items';
import { Contended, isAmbiguous, noteIfAmbiguous, withRetry } from './retry';
import { cancellation, commitOrStartOver, guardConditions, nodeUpdate, refusedByNode, type TransactItem } from './writes';
import { plain } from './plain';
import { devicesWritten, deviceWrites, forgetDevices, giveBackDevices, learnFromCancellation, takeDevices } from './devices';
import { changeMigrationStatus } from './migrations';
import { readNodePartition } from './query';

export interface ClaimResult {
  /** False when this was a retry of a claim already made: nothing changed. */
  created: boolean;
  record: InstanceRecord;
}

/**
 * Claims an instance's resources on a node: ONE TransactWriteItems, with no read before it. The node
 * update is conditioned on the claim test; the instance record and its owner item on not existing yet.
 */
export async function claimInstance(store: Store, nodeId: string, request: ClaimRequest): Promise<ClaimResult> {
  const plan = planClaim(request);
  // A timeout or 5xx leaves it unknown whether our write landed; if a retry then finds our own claim, it was ours.
  let maybeLanded = false;
  let deviceRaces = 0;
  return withRetry(async () => {
    const pci = request.pciRequests.length ? await takeDevices(store, nodeId, request).catch(async (error: unknown) => {
      // The devices may be gone because this very claim took them: a retry answers with that claim. An
      // instance claimed by another request is a conflict however many devices are left.
      const mine = error instanceof InsufficientResources ? await ownClaim(store, nodeId, plan.record.instanceUuid, plan.record.fingerprint) : undefined;
      if (mine) return mine;
      throw error;
    }) : undefined;
    if (pci && 'record' in pci) return { created: maybeLanded, record: pci.record };
    const record: InstanceRecord = { nodeId, ...plan.record, pciDevices: pci?.chosen ?? [] };
    const items: TransactItem[] = [
      nodeUpdate(store, nodeId, {
        amounts: plan.amounts, stats: plan.statsDelta, tracked: 1, conditions: guardConditions(plan.guards), pools: pci?.pools,
      }),
      { Put: { TableName: store.tableName, Item: instanceItem(record), ConditionExpression: 'attribute_not_exists(pk)' } },
      {
        Put: {
          TableName: store.tableName,
          Item: { ...ownerKey(record.instanceUuid), type: 'owner', nodeId, fingerprint: record.fingerprint },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      ...(pci ? deviceWrites(store, nodeId, pci.changes) : []),
    ];
    try {
      await store.doc.send(new TransactWriteCommand({ TransactItems: items }));
      if (pci) {
        devicesWritten(nodeId, pci.after, pci.changes);
        pci.done();
      }
      return { created: true, record };
    } catch (error) {
      if (pci) pci.done();
      if (isAmbiguous(error)) maybeLanded = true;
      const reasons = cancellation(error);
      if (!reasons || reasons.some((r) => r.Code === 'TransactionConflict')) throw error;
      const [node, instance, owner, ...devices] = reasons;
      if (owner?.Code === 'ConditionalCheckFailed' || instance?.Code === 'ConditionalCheckFailed') {
        const holder = owner?.Item ? plain(owner.Item) : undefined;
        if (holder && holder.nodeId === nodeId && holder.fingerprint === record.fingerprint) {
          return { created: maybeLanded, record: await getInstance(store, nodeId, record.instanceUuid) };
        }
        throw conflict(record.instanceUuid, nodeId, holder);
      }
      if (devices.some((r) => r.Code === 'ConditionalCheckFailed') && pci && !('record' in pci)) {
        // Another claim took one of the devices first. The first time, choose anew from what they are
        // now (it came back with the cancellation); after that, read them all again.
        if (++deviceRaces === 1) learnFromCancellation(nodeId, pci, devices);
        else forgetDevices(nodeId);
        throw new Contended('a chosen device was taken');
      }
      if (node?.Code === 'ConditionalCheckFailed') refusedByNode(nodeId, node, request);
      throw error;
    }
  });
}

function conflict(instanceUuid: string, nodeId: string, holder: Record<string, unknown> | undefined): InstanceConflict {
  return new InstanceConflict(
    holder && holder.nodeId !== nodeId
      ? `Instance ${instanceUuid} is already claimed on node ${String(holder.nodeId)}.`
      : `Instance ${instanceUuid} is already claimed on node ${nodeId} with a different request.`,
  );
}

/**
 * The claim already made by the same request on this node, if there is one; a conflict if the instance
 * is claimed otherwise (elsewhere, or here by a different request).
 */
async function ownClaim(store: Store, nodeId: string, instanceUuid: string, print: string): Promise<{ record: InstanceRecord } | undefined> {
  const out = await store.doc.send(new GetCommand({ TableName: store.tableName, Key: ownerKey(instanceUuid), ConsistentRead: true }));
  if (!out.Item) return undefined;
  if (out.Item.nodeId !== nodeId || out.Item.fingerprint !== print) throw conflict(instanceUuid, nodeId, out.Item);
  return { record: await getInstance(store, nodeId, instanceUuid) };
}

export async function getInstance(store: Store, nodeId: string, instanceUuid: string): Promise<InstanceRecord> {
  const record = await findInstance(store, nodeId, instanceUuid);
  if (!record) throw new InstanceNotFound(nodeId, instanceUuid);
  return record;
}

async function findInstance(store: Store, nodeId: string, instanceUuid: string): Promise<InstanceRecord | undefined> {
  const out = await withRetry(() =>
    store.doc.send(
      new GetCommand({ TableName: store.tableName, Key: instanceKey(nodeId, instanceUuid), ConsistentRead: true }),
    ),
  );
  return out.Item ? instanceRecordOf(out.Item) : undefined;
}

/** The node and every instance it tracks, from one strongly consistent Query of the node's partition. */
export async function nodeLedger(store: Store, nodeId: string): Promise<{ node: NodeState; instances: InstanceRecord[] }> {
  const items = await readNodePartition(store, nodeId);
  const nodeItem = items.find((i) => i.sk === nodeKey(nodeId).sk);
  if (!nodeItem) throw new NodeNotFound(nodeId);
  const instances = items.filter((i) => String(i.sk).startsWith(INSTANCE_PREFIX)).map(instanceRecordOf);
  return { node: nodeStateOf(nodeItem), instances };
}

export type StateChange = Partial<InstanceState>;

export interface ChangeResult {
  record: InstanceRecord;
  /** True when the change released the instance's resources (deleted or shelved_offloaded). */
  released: boolean;
}

/**
 * Nova's update_usage: the instance changed state. Stats follow; entering a releasing state frees
 * exactly what the claim took and stops tracking the instance. Read, then one conditional write on
 * the version read; a concurrent change makes it start over.
 */
export async function changeInstance(store: Store, nodeId: string, instanceUuid: string, change: StateChange): Promise<ChangeResult> {
  // A release whose answer was lost may have committed: a retry that then finds no record released it.
  let maybeReleased: InstanceRecord | undefined;
  return endingMovesFirst<ChangeResult>(store, () =>
    withRetry(async () => {
      const before = await findInstance(store, nodeId, instanceUuid);
      if (!before && maybeReleased) return { record: maybeReleased, released: true };
      if (!before) throw new InstanceNotFound(nodeId, instanceUuid);
      const after: InstanceRecord = { ...before, ...change, version: before.version + 1 };
      const released = RELEASING_STATES.has(after.vmState);
      if (released) {
        if (before.migrationId) return { moving: before.migrationId };
        await commitRelease(store, before, after).catch(noteIfAmbiguous(() => (maybeReleased = after)));
        return { record: after, released };
      }
      const delta = statsDelta(before, after, false);
      const items: TransactItem[] = [
        {
          Put: {
            TableName: store.tableName,
            Item: instanceItem(after),
            ConditionExpression: 'version = :v',
            ExpressionAttributeValues: { ':v': before.version },
          },
        },
      ];
      if (Object.keys(delta).length) items.push(nodeUpdate(store, nodeId, { stats: delta }));
      await commitOrStartOver(store, items);
      return { record: after, released };
    }),
  );
}

/**
 * Aborts a claim or forgets a deleted instance: frees exactly what it holds, a move in progress
 * included (the move is cancelled first, then the instance released). False if it was not tracked.
 */
export async function releaseInstance(store: Store, nodeId: string, instanceUuid: string): Promise<boolean> {
  return endingMovesFirst<boolean>(store, () =>
    withRetry(async () => {
      const before = await findInstance(store, nodeId, instanceUuid);
      if (!before) return false;
      if (before.migrationId) return { moving: before.migrationId };
      await commitRelease(store, before, before);
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

/** Deletes the record and its owner item and gives back what the record holds, conditioned on the version read. */
async function commitRelease(store: Store, before: InstanceRecord, after: InstanceRecord): Promise<void> {
  const delta = statsDelta(before, after, true);
  const pci = before.pciDevices.length ? await giveBackDevices(store, before.nodeId, before.pciDevices, before.instanceUuid) : undefined;
  await commitOrStartOver(store, [
    {
      Delete: {
        TableName: store.tableName,
        Key: instanceKey(before.nodeId, before.instanceUuid),
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: { ':v': before.version },
      },
    },
    { Delete: { TableName: store.tableName, Key: ownerKey(before.instanceUuid) } },
    nodeUpdate(store, before.nodeId, { amounts: scale(recordAmounts(before), -1), stats: delta, tracked: -1, pools: pci?.pools }),
    ...(pci ? deviceWrites(store, before.nodeId, pci.changes) : []),
  ]).catch((error: unknown) => {
    if (pci) forgetDevices(before.nodeId);
    throw error;
  });
  if (pci) devicesWritten(before.nodeId, pci.after, pci.changes);
}

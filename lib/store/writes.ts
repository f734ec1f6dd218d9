import {
  RESOURCES,
  ZERO,
  batchBounds,
  type Amounts,
  type BatchBound,
  type PoolDelta,
  type Resource,
  type InstanceRecord,
  type ResourceGuard,
} from '../domain';
import type { Store } from './client';
import type { TransactItem } from './commit';
import { Expression } from './expression';
import { COLUMNS, instanceItem, nodeKey, ownerKey } from './items';
import { ownerFreeCondition } from './tombstone';

// The building blocks every transaction of the ledger is made of.

export interface NodeChangeOptions {
  /** Signed: positive takes, negative gives back. */
  amounts?: Amounts;
  /** Change in the count of items the node tracks (instance records and move holds). */
  tracked?: number;
  conditions?: (e: Expression) => string[];
  /** PCI pool changes, as deltas (concurrent changes to other devices of a pool add up). */
  pools?: Map<string, PoolDelta>;
}

/**
 * The node half of every claim or release: move `amounts` into the claimed, used and headroom figures,
 * apply the PCI pool deltas (the stats are not stored, rule S6), bump the generation and count the items the node
 * tracks, all in one Update.
 */
export function nodeUpdate(store: Store, nodeId: string, change: NodeChangeOptions): TransactItem {
  const { amounts = ZERO, tracked = 0, conditions = () => [], pools } = change;
  const e = new Expression();
  const set: string[] = [];
  if (amounts.memoryMb || amounts.diskGb || amounts.vcpus) {
    for (const r of RESOURCES) {
      const c = COLUMNS[r];
      const by = e.value(amounts[r]);
      set.push(
        `${e.name(c.claimed)} = ${e.name(c.claimed)} + ${by}`,
        `${e.name(c.used)} = ${e.name(c.used)} + ${by}`,
        `${e.name(c.headroom)} = ${e.name(c.headroom)} - ${by}`,
      );
    }
  }
  const add = [`${e.name('generation')} ${e.value(1)}`];
  if (tracked) add.push(`${e.name('trackedCount')} ${e.value(tracked)}`);
  const poolsThere: string[] = [];
  if (pools?.size) {
    for (const [key, delta] of pools) {
      const pool = `${e.name('pciPools')}.${e.name(key)}`;
      // A pool gone since the devices were read (a copy of a node since replaced): without this condition the
      // update's path would be invalid, a ValidationException, not a cancellation the claim reads again on.
      poolsThere.push(`attribute_exists(${pool})`);
      for (const field of ['count', 'free'] as const) {
        if (delta[field]) set.push(`${pool}.${e.name(field)} = ${pool}.${e.name(field)} + ${e.value(delta[field])}`);
      }
    }
    // Lets an inventory update notice that devices changed since it read them.
    add.push(`${e.name('pciVersion')} ${e.value(1)}`);
  }
  const condition = ['attribute_exists(pk)', ...poolsThere, ...conditions(e)].join(' AND ');
  return {
    Update: {
      TableName: store.tableName,
      Key: nodeKey(nodeId),
      UpdateExpression: `${set.length ? `SET ${set.join(', ')} ` : ''}ADD ${add.join(', ')}`,
      ConditionExpression: condition,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      ...e.params(),
    },
  };
}

/** The claim's guards as conditions on the node item (see ResourceGuard): the bounds of a batch of one. */
export const guardConditions = (guards: Record<Resource, ResourceGuard>) =>
  boundConditions(batchBounds([{ guards, amounts: ZERO }]));

/** A batch of waiting claims' bounds as conditions on the node item (rule CU5). */
export function boundConditions(bounds: Record<Resource, BatchBound>) {
  return (e: Expression) => {
    const out: string[] = [];
    for (const r of RESOURCES) {
      const { headroomAtLeast, usedAtMost } = bounds[r];
      if (headroomAtLeast !== undefined) out.push(`${e.name(COLUMNS[r].headroom)} >= ${e.value(headroomAtLeast)}`);
      if (usedAtMost !== undefined) out.push(`${e.name(COLUMNS[r].used)} <= ${e.value(usedAtMost)}`);
    }
    return out;
  };
}

/** A claim's record and owner items: the record new, the owner absent or a tombstone the claim does not repeat. */
export function recordPuts(store: Store, record: InstanceRecord): { instance: TransactItem; owner: TransactItem } {
  const { nodeId, fingerprint } = record;
  return {
    instance: {
      Put: { TableName: store.tableName, Item: instanceItem(record), ConditionExpression: 'attribute_not_exists(pk)' },
    },
    owner: {
      Put: {
        TableName: store.tableName,
        Item: { ...ownerKey(record.instanceUuid), type: 'owner', nodeId, claimedOn: nodeId, fingerprint },
        // Absent, or a tombstone this claim does not repeat (rule O5).
        ...ownerFreeCondition(nodeId, fingerprint),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  };
}

// A batch of waiting claims (rule CU5): the ONE transaction that commits every claim the node takes, in order, and
// deletes their waiting items with them; sent again unchanged after conflicts, its cancellation read claim by claim.
import { ZERO, add, batchBounds, type InstanceRecord } from '../domain';
import type { Store } from './client';
import { commit, type Committed, type NamedItem, type Reasons, type Unexplained } from './commit';
import { failed, failedNames } from './outcomes';
import { backoffCapMs, backoffFor, isTransient, outOfTime, retryKind, type RetryContext } from './retry';
import { waitingKey, type Mine, type Waiting } from './waiting-items';
import { boundConditions, nodeUpdate, recordPuts } from './writes';

/** How many times a batch is sent again after conflicts before the waiting claims are read again. */
const RESENDS = 8;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Sent =
  | Committed
  | { kind: 'mine'; reasons: Reasons }
  | { kind: 'node-gone' }
  | { kind: 'others'; failed: string[] }
  | { kind: 'changed' };

export interface Batch {
  batch: Waiting[];
  tidied: Waiting[];
  mine: Mine;
  mineIn: boolean;
  /** The waiting item of this request's claim. */
  sk: string;
}

/**
 * Sends the batch, and again after a conflict or throttling without reading again: the batch's conditions are
 * its own check, and a batch that committed this claim first fails on its waiting item.
 */
export async function sendUntilSettled(
  store: Store,
  context: RetryContext<InstanceRecord>,
  b: Batch,
  requestMs: number,
): Promise<Sent> {
  const { policy, onRetry, budget } = store.retry;
  const write = { items: batchItems(store, b), intent: b.mineIn ? b.mine.record : undefined };
  for (let n = 1; ; n++) {
    try {
      return await commit(store, context, write, (reasons) => classifyBatch(reasons, b));
    } catch (error) {
      if (!isTransient(error) || n >= RESENDS || outOfTime(budget, budget?.requestMs)) {
        if (isTransient(error)) return { kind: 'changed' };
        throw error;
      }
      const kind = retryKind(error);
      onRetry?.(kind);
      // A conflict is another batch or claim holding the node item for about one request's time.
      await sleep(Math.random() * (kind === 'conflict' ? requestMs : backoffCapMs(backoffFor(policy, kind), n)));
    }
  }
}

/** The node's update for the whole batch, conditioned so that each claim passes its guards in turn. */
function batchItems(store: Store, b: Batch): NamedItem[] {
  const { nodeId } = b.mine.record;
  const tidy = (sk: string) => ({
    Delete: { TableName: store.tableName, Key: waitingKey(nodeId, sk), ConditionExpression: 'attribute_exists(pk)' },
  });
  const node = nodeUpdate(store, nodeId, {
    amounts: b.batch.reduce((sum, w) => add(sum, w.amounts), ZERO),
    tracked: b.batch.length,
    conditions: boundConditions(batchBounds(b.batch)),
  });
  return [
    { name: 'node', item: node },
    ...b.batch.flatMap((w) => {
      const puts = recordPuts(store, w.record);
      return [
        { name: `instance:${w.sk}`, item: puts.instance },
        { name: `owner:${w.sk}`, item: puts.owner },
        { name: `waiting:${w.sk}`, item: batchDelete(store, nodeId, w.sk) },
      ];
    }),
    ...b.tidied.map((w) => ({ name: `tidied:${w.sk}`, item: tidy(w.sk) })),
  ];
}

/**
 * A batch's cancellation (items: node, instance:*, owner:*, waiting:*, tidied:*), first that applies:
 * 1. changed: this claim's waiting item is gone, most likely committed by another batch: read again.
 * 2. mine: this request's record or owner failed: answered as its own claim's would be (classifyClaim).
 * 3. node-gone: the node item is gone.
 * 4. others: another claim's record or owner failed: that claim is passed over, its own request answers it.
 * 5. changed: the node's figures or a waiting item changed since the read: read again.
 */
function classifyBatch(reasons: Reasons, b: Batch): Sent | Unexplained {
  const own = (name: string) => reasons.get(`${name}:${b.sk}`) ?? {};
  if (failed(reasons, `waiting:${b.sk}`)) return { kind: 'changed' };
  if (failed(reasons, `instance:${b.sk}`) || failed(reasons, `owner:${b.sk}`)) {
    const reasonsOfMine = new Map([
      ['instance', own('instance')],
      ['owner', own('owner')],
    ]);
    return { kind: 'mine', reasons: reasonsOfMine };
  }
  if (failed(reasons, 'node') && !reasons.get('node')?.Item) return { kind: 'node-gone' };
  const others = b.batch
    .filter((w) => failed(reasons, `instance:${w.sk}`) || failed(reasons, `owner:${w.sk}`))
    .map((w) => w.sk);
  if (others.length) return { kind: 'others', failed: others };
  return failedNames(reasons).length ? { kind: 'changed' } : { kind: 'unexplained' };
}

/** The Delete of a waiting item in a batch: there, and not withdrawn by a request that answered its claim. */
const batchDelete = (store: Store, nodeId: string, sk: string) => ({
  Delete: {
    TableName: store.tableName,
    Key: waitingKey(nodeId, sk),
    ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(withdrawn)',
  },
});

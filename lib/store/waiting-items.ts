// The items of claims waiting on a hot node (rule CU5): one per waiting claim, in the node's partition, its sort key
// `NODE#WAIT#<epoch ms, 15 digits>#<instance uuid>#<nonce>` placing it right after the node item (one Query reads
// both) in the order the claims began to wait. An item is gone when a batch committed its claim, when its own
// request withdrew it, or, well past its `until`, when another request tidied it. Another request of the same claim
// that answered it only marks it withdrawn.
import { randomUUID } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ClaimPlan, InstanceRecord, Sized, WaitingClaim } from '../domain';
import type { Store } from './client';
import { instanceKey, nodeKey } from './items';
import { conditionFailed } from './outcomes';
import { queryAll } from './query';
import { RESERVE_MS, withRetry, type RetryContext } from './retry';

export const WAITING_PREFIX = 'NODE#WAIT#';
/** How long a claim waits outside an invocation (no deadline known). */
const UNBOUNDED_WAIT_MS = 20_000;

export interface Waiting extends WaitingClaim {
  sk: string;
  record: InstanceRecord;
  /** Epoch ms at which its own request stops waiting and withdraws it. */
  until: number;
  /** Withdrawn by a request of the same claim that answered it: no batch may commit it (see withdrawTwins). */
  withdrawn: boolean;
}

/** The claim this request makes, and what its own refusal is decided on. */
export interface Mine {
  record: InstanceRecord;
  plan: ClaimPlan;
  request: Sized;
}

/** How long a process takes a node for hot after it last saw a queue of claims waiting there. */
const HOT_MS = 1_000;
const MOST_HOT = 1_000;
const hotUntil = new Map<string, number>();

/**
 * Nodes this process saw contended lately. Its claims there wait with the others at once: a transaction of their
 * own would hold the node item against the next batch even when it fails. Each process (Lambda) learns on its own.
 */
export const hotNodes = {
  mark(store: Store, nodeId: string): void {
    if (hotUntil.size >= MOST_HOT) hotUntil.clear();
    hotUntil.set(`${store.tableName}|${nodeId}`, Date.now() + HOT_MS);
  },
  has(store: Store, nodeId: string): boolean {
    const key = `${store.tableName}|${nodeId}`;
    const until = hotUntil.get(key) ?? 0;
    if (until > Date.now()) return true;
    hotUntil.delete(key);
    return false;
  },
  /** As a process that has seen nothing yet (a new Lambda). */
  forget(): void {
    hotUntil.clear();
  },
};

export const waitingKey = (nodeId: string, sk: string) => ({ pk: nodeKey(nodeId).pk, sk });

/** Writes the claim's waiting item; `until` leaves its request the time to withdraw it before the invocation ends. */
export async function startWaiting(store: Store, context: RetryContext<InstanceRecord>, mine: Mine): Promise<Waiting> {
  const now = Date.now();
  const { nodeId, instanceUuid } = mine.record;
  const left = store.retry.budget?.remainingMs?.();
  const requestMs = store.retry.budget?.requestMs ?? 0;
  const until = now + (left === undefined ? UNBOUNDED_WAIT_MS : Math.max(0, left - RESERVE_MS - 2 * requestMs));
  const me: Waiting = {
    // The nonce tells apart two requests for one instance that begin to wait in the same millisecond.
    sk: `${WAITING_PREFIX}${String(now).padStart(15, '0')}#${instanceUuid}#${randomUUID().slice(0, 8)}`,
    record: mine.record,
    amounts: mine.plan.amounts,
    guards: mine.plan.guards,
    until,
    withdrawn: false,
  };
  const item = {
    ...waitingKey(nodeId, me.sk),
    type: 'waiting',
    // One string: every waiting claim reads all of them, and a string is the cheapest attribute to read.
    claim: JSON.stringify({ record: me.record, amounts: me.amounts, guards: me.guards }),
    until,
    // The table's TTL only tidies up: other requests stop taking it before `until`.
    expiresAt: Math.ceil(until / 1000) + 3600,
  };
  await withRetry(store, async () => {
    try {
      await store.doc.send(
        new PutCommand({ TableName: store.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
    } catch (error) {
      // In place already: this very Put, whose answer was lost.
      if (conditionFailed(error)) return;
      // A lost Put may have let a batch commit the claim before this one is sent again.
      context.failed(error, mine.record);
      throw error;
    }
  });
  return me;
}

/** The node item and every claim waiting on it, oldest first, in ONE strongly consistent Query. */
export async function readWaiting(store: Store, nodeId: string) {
  const { pk, sk } = nodeKey(nodeId);
  const items = await queryAll(store, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :node)',
    ExpressionAttributeValues: { ':pk': pk, ':node': sk },
    ConsistentRead: true,
  });
  const node = items.find((i) => i.sk === sk);
  const waiting = items.filter((i) => String(i.sk).startsWith(WAITING_PREFIX)).map(waitingOf);
  return { node, waiting };
}

function waitingOf(item: Record<string, unknown>): Waiting {
  const claim = JSON.parse(String(item.claim)) as Pick<Waiting, 'record' | 'amounts' | 'guards'>;
  return { sk: String(item.sk), ...claim, until: Number(item.until), withdrawn: item.withdrawn === true };
}

/**
 * Before a plain claim is answered with a refusal or a conflict, the other waiting items of the same claim (same
 * instance and request on this node) are marked withdrawn: one left by an earlier request of it that died while
 * waiting would otherwise be committed by a later batch, after the client was told no. They are marked, not deleted:
 * a live request takes its own item gone for committed. True if one was gone already (a batch may have committed it).
 */
export async function withdrawTwins(store: Store, record: InstanceRecord, mine?: string): Promise<boolean> {
  const { nodeId, instanceUuid, fingerprint } = record;
  const { waiting } = await readWaiting(store, nodeId);
  const twins = waiting.filter(
    (w) =>
      w.sk !== mine && !w.withdrawn && w.record.instanceUuid === instanceUuid && w.record.fingerprint === fingerprint,
  );
  const gone = await Promise.all(twins.map((w) => markWithdrawn(store, nodeId, w.sk)));
  return gone.includes(true);
}

const markWithdrawn = (store: Store, nodeId: string, sk: string) =>
  unlessGone(store, () =>
    store.doc.send(
      new UpdateCommand({
        TableName: store.tableName,
        Key: waitingKey(nodeId, sk),
        UpdateExpression: 'SET withdrawn = :t',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':t': true },
      }),
    ),
  );

/** Sends a write conditioned on its waiting item being there: true if the item was gone. */
async function unlessGone(store: Store, send: () => Promise<unknown>): Promise<boolean> {
  return withRetry(store, async () => {
    try {
      await send();
      return false;
    } catch (error) {
      if (conditionFailed(error)) return true;
      throw error;
    }
  });
}

/**
 * Stops waiting: a conditional Delete of the waiting item. True when the item was gone because a batch committed
 * the claim (a gone item may also be this very Delete's, its answer lost: the record tells which).
 */
export async function withdrawWaiting(store: Store, me: Waiting): Promise<boolean> {
  const { nodeId } = me.record;
  const gone = await unlessGone(store, () =>
    store.doc.send(
      new DeleteCommand({
        TableName: store.tableName,
        Key: waitingKey(nodeId, me.sk),
        ConditionExpression: 'attribute_exists(pk)',
      }),
    ),
  );
  return gone && recordIsMine(store, me);
}

/**
 * What a gone waiting item means. Before its `until` only a batch removes it (others tidy it only well after);
 * past it, it may have been tidied, and the record tells.
 */
export async function goneCommitted(store: Store, me: Waiting): Promise<boolean> {
  return Date.now() < me.until || recordIsMine(store, me);
}

async function recordIsMine(store: Store, me: Waiting): Promise<boolean> {
  const { nodeId, instanceUuid, fingerprint } = me.record;
  const found = await withRetry(store, () =>
    store.doc.send(
      new GetCommand({ TableName: store.tableName, Key: instanceKey(nodeId, instanceUuid), ConsistentRead: true }),
    ),
  );
  return found.Item?.fingerprint === fingerprint;
}

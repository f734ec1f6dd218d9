// Combining on a hot node (rule CU5). A claim whose transaction met another one on the node item does not retry
// alone at random: it waits as an item of its own (waiting-items.ts), and whichever waiting claim next wins the
// node item commits, in ONE transaction, every waiting claim the node takes in the order they began to wait,
// deleting their waiting items with them. The oldest waiting claim sends the batch; the others look again
// whether theirs went with it, and send one themselves if the oldest stays the oldest too long (its request gone).
import { performance } from 'node:perf_hooks';
import { fitsOn, takeInOrder, type InstanceRecord } from '../domain';
import type { Store } from './client';
import { cancellation, commit, type Committed, type Reasons, type Unexplained, type Write } from './commit';
import { headroomOf, usedOf } from './items';
import { classifyClaim, nodeRefusal, type ClaimOutcome } from './outcomes';
import { ownClaim } from './own-claim';
import { Unavailable } from '../errors';
import { outOfTime, tooLate, type RetryContext } from './retry';
import { sendUntilSettled } from './waiting-batch';
import {
  goneCommitted,
  hotNodes,
  readWaiting,
  startWaiting,
  withdrawTwins,
  withdrawWaiting,
  type Mine,
  type Waiting,
} from './waiting-items';

/** A transaction holds 100 items: the node's update, 3 per claim (record, owner, waiting item), a few tidied. */
const TIDIED = 3;
const MOST_PER_BATCH = Math.floor((100 - 1 - TIDIED) / 3);
/** Other requests leave a waiting claim alone this long before its own request stops waiting (clocks differ). */
const MARGIN_MS = 5_000;
/**
 * Seen this many claims waiting on a node, a process sends its next claims there to wait at once. Fewer, a claim
 * alone more often goes through than it holds up a batch (at 4 claimers: p50 22 ms against 50 when all wait).
 */
const HOT_QUEUE = 4;
/** A waiting claim that is not the oldest looks again after this many times a read's duration. */
const LOOK_AFTER = 0.5;
/**
 * How many looks in a row (each about 1.5 reads' time) a waiting claim that is not the oldest sees the same
 * oldest before it takes that request for gone and sends a batch itself.
 */
const PATIENCE = 6;

export type WaitOutcome = Exclude<ClaimOutcome, Unexplained> | Committed;

const COMMITTED: Committed = { kind: 'committed' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The claim's own transaction; when it met another transaction on the node item (and only then), the claim
 * waits and combines instead. Every other outcome is the transaction's own. On a node where this process saw
 * a queue of waiting claims within the last second, the claim waits at once.
 */
export async function commitOrWait<O extends { kind: string }>(
  store: Store,
  context: RetryContext<InstanceRecord>,
  write: Write<InstanceRecord>,
  classify: (reasons: Reasons) => O | Unexplained,
  mine: Mine,
): Promise<Exclude<O, Unexplained> | WaitOutcome> {
  const { nodeId } = mine.record;
  if (!hotNodes.has(store, nodeId)) {
    try {
      const outcome = await commit(store, context, write, classify);
      if (!FINAL_NO.has(outcome.kind)) return outcome;
      // An earlier request of this claim may have died while it waited: its item must not outlive this answer.
      return (await withdrawTwins(store, mine.record)) ? ((await ownOutcome(store, mine)) ?? outcome) : outcome;
    } catch (error) {
      if (cancellation(error)?.[0]?.Code !== 'TransactionConflict') throw error;
    }
    // Counted as the conflict retry it replaces.
    store.retry.onRetry?.('conflict');
  }
  return waitAndCombine(store, context, mine);
}

/** The answers that tell the client its claim was not made. */
const FINAL_NO = new Set(['refused', 'instance-conflict', 'released']);

async function waitAndCombine(store: Store, context: RetryContext<InstanceRecord>, mine: Mine): Promise<WaitOutcome> {
  const me = await startWaiting(store, context, mine);
  const passedOver = new Set<string>();
  const { policy, budget } = store.retry;
  let stuck = 0;
  let lastOldest: string | undefined;
  for (let round = 1; round <= (policy.conflicts ?? policy).attempts; round++) {
    // Room is kept for the withdrawal itself; past `until` others may take the item for abandoned.
    if (outOfTime(budget, budget?.requestMs) || Date.now() >= me.until) break;
    const started = performance.now();
    const read = await readWaiting(store, mine.record.nodeId);
    if (read.waiting.length >= HOT_QUEUE) hotNodes.mark(store, mine.record.nodeId);
    const plan = planBatch(read, me, mine, passedOver);
    const requestMs = performance.now() - started;
    if (plan.kind === 'committed') return gone(store, me);
    if (plan.kind === 'refused') return refuse(store, me, mine, plan.outcome);
    if (plan.kind === 'withdrawn') {
      // Another request of this claim answered it no while this one waited: committing it now would go back on
      // that answer (its client may have given this request up), so this one is answered 503, to be sent again.
      if (await withdrawWaiting(store, me)) return COMMITTED;
      throw new Unavailable(1, { cause: new Error('another request of the same claim answered it') });
    }
    // One sender at a time: two batches of the same claims only cancel each other.
    if (plan.oldest !== me.sk) {
      stuck = plan.oldest === lastOldest ? stuck + 1 : 0;
      lastOldest = plan.oldest;
      if (stuck < PATIENCE) {
        await sleep(LOOK_AFTER * requestMs);
        continue;
      }
    }
    stuck = 0;
    const sent = await sendUntilSettled(store, context, { ...plan, mine, sk: me.sk }, requestMs);
    switch (sent.kind) {
      case 'committed':
        if (plan.mineIn) return COMMITTED;
        break;
      case 'mine':
        return withdraw(store, me, classifyClaim(sent.reasons, mine.request, mine.record) as WaitOutcome);
      case 'node-gone':
        return withdraw(store, me, sent);
      case 'others':
        for (const sk of sent.failed) passedOver.add(sk);
        break;
      case 'changed':
        break;
    }
  }
  return withdraw(store, me, 'late');
}

type Plan =
  | Committed
  | { kind: 'withdrawn' }
  | { kind: 'refused'; outcome: WaitOutcome }
  | { kind: 'batch'; batch: Waiting[]; tidied: Waiting[]; mineIn: boolean; oldest: string | undefined };

/** What to send after a read: the batch the node takes, first come first served, unless this claim is done. */
function planBatch(
  read: Awaited<ReturnType<typeof readWaiting>>,
  me: Waiting,
  mine: Mine,
  passedOver: Set<string>,
): Plan {
  const { node, waiting } = read;
  const mineNow = waiting.find((w) => w.sk === me.sk);
  if (!mineNow) return COMMITTED;
  if (mineNow.withdrawn) return { kind: 'withdrawn' };
  if (!node) return { kind: 'refused', outcome: { kind: 'node-gone' } };
  const now = Date.now();
  const live = oncePerInstance(
    waiting.filter((w) => w.sk === me.sk || (w.until > now + MARGIN_MS && !w.withdrawn && !passedOver.has(w.sk))),
  );
  const figures = { used: usedOf(node), headroom: headroomOf(node) };
  const batch = takeInOrder(figures, live, MOST_PER_BATCH);
  const mineIn = batch.some((w) => w.sk === me.sk);
  if (!mineIn && !fitsOn(figures, me)) return { kind: 'refused', outcome: nodeRefusal({ Item: node }, mine.request) };
  const tidied = waiting.filter((w) => w.until < now - MARGIN_MS).slice(0, TIDIED);
  return { kind: 'batch', batch, tidied, mineIn, oldest: live[0]?.sk };
}

/** Two requests for one instance may wait at once; a transaction may write an item only once. */
function oncePerInstance(waiting: Waiting[]): Waiting[] {
  const seen = new Set<string>();
  return waiting.filter((w) => !seen.has(w.record.instanceUuid) && seen.add(w.record.instanceUuid));
}

/** A gone waiting item: committed, or (tidied past its `until`) the request is out of time. */
async function gone(store: Store, me: Waiting): Promise<WaitOutcome> {
  if (await goneCommitted(store, me)) return COMMITTED;
  throw tooLate();
}

/**
 * A claim the node no longer takes, answered as its own transaction would have been: by its owner item first
 * (classifyClaim), so that this request's own claim made before stands, and a claim of an instance held
 * elsewhere or released by this very request is a conflict, however full the node.
 */
async function refuse(store: Store, me: Waiting, mine: Mine, outcome: WaitOutcome): Promise<WaitOutcome> {
  const out = await withdraw(store, me, outcome);
  if (out.kind === 'committed') return out;
  await withdrawTwins(store, mine.record, me.sk);
  return (await ownOutcome(store, mine)) ?? out;
}

/** This request's claim, made before (by an attempt or a request whose answer was lost); conflicts thrown. */
async function ownOutcome(store: Store, mine: Mine): Promise<WaitOutcome | undefined> {
  const { nodeId, instanceUuid, fingerprint } = mine.record;
  const own = await ownClaim(store, nodeId, instanceUuid, fingerprint);
  return own ? { kind: 'own-claim', holder: { ...own.record } } : undefined;
}

/** Stops waiting, unless a batch committed the claim meanwhile: then the claim stands, whatever was to be answered. */
async function withdraw(store: Store, me: Waiting, outcome: WaitOutcome | 'late'): Promise<WaitOutcome> {
  if (await withdrawWaiting(store, me)) return COMMITTED;
  if (outcome === 'late') throw tooLate();
  return outcome;
}

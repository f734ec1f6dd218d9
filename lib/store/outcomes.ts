// Every outcome of every kind of write, in order of precedence: a write's classifier answers the first
// that applies (the way TigerBeetle documents create_transfers' results). A transaction cancelled by a
// TransactionConflict, and every failure that is not a cancellation (throttling, 5xx, timeouts), never
// reaches a classifier: the retry takes it (see commit.ts, retry.ts). `unexplained` rethrows the error.
import { refusalMessage, refusalReasons, type NodeState, type Sized } from '../domain';
import { InsufficientResources, NodeNotFound } from '../errors';
import type { CancelReason, Reasons, Unexplained } from './commit';
import { inventoryOf, usedOf } from './items';
import { plain } from './plain';
import { Contended } from './retry';
import { isTombstone } from './tombstone';

export const failed = (reasons: Reasons, name: string) => reasons.get(name)?.Code === 'ConditionalCheckFailed';

/** The names of the items that failed their conditions. */
export const failedNames = (reasons: Reasons) =>
  [...reasons].filter(([, r]) => r.Code === 'ConditionalCheckFailed').map(([n]) => n);

/** Why the node item of a claim (or move claim) failed its condition. */
export type NodeRefusal =
  /** The node does not exist: no image came back. -> NodeNotFound */
  | { kind: 'node-gone' }
  /** The claim does not fit: Nova's reasons from the node's image, without a read. -> InsufficientResources */
  | { kind: 'refused'; why: string[] }
  /** The condition failed but the test passes (they decide alike, see GRID): try again. -> Contended */
  | { kind: 'contended' };

/** The node's half of a claim was refused: which refusal, from the image returned with the cancellation. */
export function nodeRefusal(node: CancelReason, request: Sized): NodeRefusal {
  if (!node.Item) return { kind: 'node-gone' };
  const image = plain(node.Item);
  const why = refusalReasons(inventoryOf(image), usedOf(image), request);
  return why.length ? { kind: 'refused', why } : { kind: 'contended' };
}

/** The error a node refusal answers with. */
export function refusalError(nodeId: string, refusal: NodeRefusal): Error {
  switch (refusal.kind) {
    case 'node-gone':
      return new NodeNotFound(nodeId);
    case 'refused':
      return new InsufficientResources(refusalMessage(refusal.why), refusal.why);
    case 'contended':
      return new Contended('claim condition failed but the test passes');
  }
}

/**
 * Claim (items: node, instance, owner, device:*).
 * 1. committed: 201 created.
 * 2. own-claim: the instance or its owner item exists, and the owner is on this node with this request's
 *    fingerprint: this request's claim, made before (200), or by its own write whose answer was lost (201).
 * 3. released: the owner item is the tombstone of this request's claim on this node, released within the
 *    window (rule O5): a late retry, refused -> InstanceConflict (also when this request's own lost write
 *    made the claim: it has been released since, and taking it again would count it twice).
 * 4. instance-conflict: the instance is claimed elsewhere, or here by a different request -> InstanceConflict.
 * 5. raced: a chosen device was taken by another claim first: choose again (-> Contended).
 * 6. cell-raced: a NUMA cell is no longer as the fit read it (a pin taken, usage past the fit's threshold,
 *    a new inventory): fit again on the cells the cancellation returned (-> Contended).
 * 7. the node refused (see NodeRefusal).
 */
export type ClaimOutcome =
  | { kind: 'own-claim'; holder: Record<string, unknown> }
  | { kind: 'released'; holder: Record<string, unknown> }
  | { kind: 'instance-conflict'; holder?: Record<string, unknown> }
  | { kind: 'raced' }
  | { kind: 'cell-raced' }
  | NodeRefusal
  | Unexplained;

export function classifyClaim(
  reasons: Reasons,
  request: Sized,
  mine: { nodeId: string; fingerprint: string },
): ClaimOutcome {
  if (failed(reasons, 'owner') || failed(reasons, 'instance')) {
    const owner = reasons.get('owner')?.Item;
    const holder = owner ? plain(owner) : undefined;
    if (holder && !isTombstone(holder) && holder.nodeId === mine.nodeId && holder.fingerprint === mine.fingerprint)
      return { kind: 'own-claim', holder };
    // The owner's condition failed on a tombstone only if this claim repeats it.
    if (holder && isTombstone(holder)) return { kind: 'released', holder };
    return { kind: 'instance-conflict', holder };
  }
  if (failedNames(reasons).some((n) => n.startsWith('device:'))) return { kind: 'raced' };
  if (failedNames(reasons).some((n) => n.startsWith('cell:'))) return { kind: 'cell-raced' };
  const node = reasons.get('node');
  if (node && failed(reasons, 'node')) return nodeRefusal(node, request);
  return { kind: 'unexplained' };
}

/**
 * Move claim (items: node, hold:new, migration, instance, device:*).
 * 1. committed: 201 created.
 * 2. raced: the migration (a retry of this request, or another), the instance (a state change, another
 *    move) or a chosen device changed since the read: read again (-> Contended, the device copy dropped).
 * 3. the node refused (see NodeRefusal).
 */
export type MoveClaimOutcome = { kind: 'raced' } | NodeRefusal | Unexplained;

export function classifyMoveClaim(reasons: Reasons, request: Sized): MoveClaimOutcome {
  if (failedNames(reasons).some((n) => n !== 'node')) return { kind: 'raced' };
  const node = reasons.get('node');
  if (node && failed(reasons, 'node')) return nodeRefusal(node, request);
  return { kind: 'unexplained' };
}

/**
 * A write built from a read: status change (migration, instance:*, hold:*, node:*, owner, device:*),
 * release (instance, owner, node, device:*), state change (instance, node), drop move claim (hold, node,
 * device:*), put node's device chunks (node, device:*).
 * 1. committed.
 * 2. changed: any item is no longer as read: read again and plan anew (-> Contended).
 */
export type StartOverOutcome = { kind: 'changed' } | Unexplained;

export function classifyStartOver(reasons: Reasons): StartOverOutcome {
  return failedNames(reasons).length ? { kind: 'changed' } : { kind: 'unexplained' };
}

// Put node without device changes: one unconditional UpdateItem, so it always commits; `created` when it
// made the node (generation 1) or when this request's own lost write did (see putNode). With device
// changes, each chunk is a write built from a read (above).

/**
 * Deleting an item that must hold nothing (a node, a server group): one DeleteItem conditioned on the item
 * existing with its count at 0, the item returned when the condition fails.
 * 1. committed: 204.
 * 2. in-use: the image shows the count -> NodeInUse, GroupInUse.
 * 3. gone: no image -> NodeNotFound, GroupNotFound; unless this request's own delete, its answer lost, removed it:
 *    committed.
 */
export type DeleteOutcome =
  { kind: 'committed' } | { kind: 'in-use'; image: Record<string, unknown> } | { kind: 'gone' };

export function classifyDelete(image: Record<string, unknown> | undefined, deletedByMe: boolean): DeleteOutcome {
  if (image) return { kind: 'in-use', image: plain(image) };
  return deletedByMe ? { kind: 'committed' } : { kind: 'gone' };
}

/**
 * Audit repair (one UpdateItem conditioned on the generation read).
 * 1. committed: repaired.
 * 2. recount: a claim, release or inventory change landed since the read: read and recount (a few
 *    times, then Unavailable).
 */
export type AuditOutcome = { kind: 'committed'; node: NodeState } | { kind: 'recount'; ambiguous: boolean };

/** The name of the error a failed conditional single-item write (UpdateItem, DeleteItem) throws. */
export const conditionFailed = (error: unknown) =>
  (error as { name?: string })?.name === 'ConditionalCheckFailedException';

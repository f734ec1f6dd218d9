import { planClaim, type ClaimPlan, type ClaimRequest, type InstanceRecord, type NumaRequest } from '../domain';
import { InsufficientResources, NodeNotFound } from '../errors';
import type { Store } from './client';
import { commit, type NamedItem, type Reasons } from './commit';
import { takeDevices, takeUpkeep, deviceWrites, type DeviceTake } from './devices';
import { getInstance } from './instances';
import {
  CellView,
  claimCellWrites,
  fitOnCells,
  numaLimitsOf,
  numaRefusalError,
  numaRequestOf,
  pciRequestsOf,
  type NumaFit,
} from './numa-claim';
import { classifyClaim, failed, refusalError } from './outcomes';
import { Contended, withRetry, type RetryContext } from './retry';
import { releasedConflict } from './tombstone';
import { conflict, ownClaim } from './own-claim';
import { commitOrWait, type WaitOutcome } from './waiting-claims';
import { guardConditions, nodeUpdate, recordPuts } from './writes';

export interface ClaimResult {
  /** False when this was a retry of a claim already made: nothing changed. */
  created: boolean;
  record: InstanceRecord;
}

/**
 * More items for a claim's own transaction (a server group's, a placement's record), made for the record
 * about to be written, and the error when one of them fails its condition. The owner's and the instance's
 * outcomes come first: a claim sent again fails the extra items' conditions too, and is still answered as itself.
 */
export interface ClaimExtra {
  items(record: InstanceRecord): Promise<NamedItem[]>;
  refusal(reasons: Reasons, record: InstanceRecord): Error | undefined;
}

function extraRefusal(extra: ClaimExtra | undefined, reasons: Reasons, record: InstanceRecord) {
  if (!extra || failed(reasons, 'owner') || failed(reasons, 'instance')) return undefined;
  const error = extra.refusal(reasons, record);
  return error ? { kind: 'extra' as const, error } : undefined;
}

/** Whether a claim found in place is the one this request's own earlier, ambiguously answered write made. */
export const claimedByMe = (intended: readonly InstanceRecord[], found: { nodeId?: unknown; fingerprint?: unknown }) =>
  intended.some((r) => r.nodeId === found.nodeId && r.fingerprint === found.fingerprint);

/** The items of a claim: the node's update (conditioned on the claim test), the record, the owner, the devices. */
export function claimItems(store: Store, record: InstanceRecord, plan: ClaimPlan, pci?: DeviceTake): NamedItem[] {
  const { nodeId } = record;
  const puts = recordPuts(store, record);
  return [
    {
      name: 'node',
      item: nodeUpdate(store, nodeId, {
        amounts: plan.amounts,
        tracked: 1,
        conditions: guardConditions(plan.guards),
        pools: pci?.pools,
      }),
    },
    { name: 'instance', item: puts.instance },
    { name: 'owner', item: puts.owner },
    ...(pci ? deviceWrites(store, nodeId, pci.changes) : []),
  ];
}

/**
 * Claims an instance's resources on a node: ONE TransactWriteItems, with no read before it. The node
 * update is conditioned on the claim test; the instance record and its owner item on not existing yet.
 */
export async function claimInstance(
  store: Store,
  nodeId: string,
  request: ClaimRequest,
  extra?: ClaimExtra,
): Promise<ClaimResult> {
  const plan = planClaim(request);
  // A NUMA request that Nova would refuse to build is a 400 before anything is read (rule R9).
  const numa = numaRequestOf(request);
  const view = new CellView();
  const combinable = !numa && request.pciRequests.length === 0 && !extra;
  const attempt = async (context: RetryContext<InstanceRecord>): Promise<ClaimResult> => {
    // The NUMA fit first: with PCI requests it chooses the devices too, on its cells' affinity (rule F6).
    const fit = numa ? await fitOrFindOwn(store, context, nodeId, request, numa, plan.record, view) : undefined;
    if (fit && 'found' in fit) return fit.found;
    const given = fit?.kind === 'fitted' ? fit.topology.pciDevices : undefined;
    const pci = request.pciRequests.length
      ? await takeOrFindOwn(store, context, nodeId, request, plan.record, given)
      : undefined;
    if (pci && 'found' in pci) return pci.found;
    const record: InstanceRecord = { nodeId, ...plan.record, pciDevices: pci?.chosen ?? [], ...numaFields(fit) };
    const write = {
      items: [
        ...claimItems(store, record, plan, pci),
        ...(fit?.kind === 'fitted' ? claimCellWrites(store, nodeId, fit) : []),
        ...((await extra?.items(record)) ?? []),
      ],
      intent: record,
      devices: pci ? [takeUpkeep(store, nodeId, pci, 'learn')] : [],
    };
    const classify = (reasons: Reasons) => {
      view.learn(reasons);
      return extraRefusal(extra, reasons, record) ?? classifyClaim(reasons, request, record);
    };
    // A claim of the node's figures alone waits and combines when it meets another on the node item (rule CU5).
    const outcome = combinable
      ? await commitOrWait(store, context, write, classify, { record, plan, request })
      : await commit(store, context, write, classify);
    return answerOf(store, context, outcome, record, view);
  };
  // Whatever an attempt's end, the fit's cell takes stop being noted once it is over (rule NU10).
  return withRetry<ClaimResult, InstanceRecord>(store, (context) => attempt(context).finally(() => view.unhold()));
}

type Outcome = WaitOutcome | { kind: 'extra'; error: Error };

/** The answer an attempt's outcome makes: the claim made (by this request or an earlier one of it), or why not. */
async function answerOf(
  store: Store,
  context: RetryContext<InstanceRecord>,
  outcome: Outcome,
  record: InstanceRecord,
  view: CellView,
): Promise<ClaimResult> {
  const { nodeId } = record;
  switch (outcome.kind) {
    case 'extra':
      throw outcome.error;
    case 'committed':
      return { created: true, record };
    case 'own-claim':
      return {
        created: claimedByMe(context.intended, outcome.holder),
        record: await getInstance(store, nodeId, record.instanceUuid),
      };
    case 'released':
      // Even when this request's own lost write made the claim: it has been released since.
      throw releasedConflict(record.instanceUuid, outcome.holder);
    case 'instance-conflict':
      throw conflict(record.instanceUuid, nodeId, outcome.holder);
    case 'raced':
      // The first time the cache chose anew from what the devices are now; after that it reads them all again.
      view.forget();
      throw new Contended('a chosen device was taken');
    case 'cell-raced':
      // The view now has the cells as the cancellation returned them: the next attempt fits again on those.
      throw new Contended('a NUMA cell changed since it was read');
    case 'node-gone':
    case 'refused':
    case 'contended':
      throw refusalError(nodeId, outcome);
  }
}

/**
 * The claim's devices. They may be gone because this very claim took them: a retry then answers with
 * that claim. An instance claimed by another request is a conflict however many devices are left.
 */
async function takeOrFindOwn(
  store: Store,
  context: RetryContext<InstanceRecord>,
  nodeId: string,
  request: ClaimRequest,
  planned: { instanceUuid: string; fingerprint: string },
  given?: string[],
): Promise<DeviceTake | { found: ClaimResult }> {
  try {
    return await takeDevices(store, nodeId, request, given);
  } catch (error) {
    const mine =
      error instanceof InsufficientResources
        ? await ownClaim(store, nodeId, planned.instanceUuid, planned.fingerprint)
        : undefined;
    if (mine) return { found: { created: claimedByMe(context.intended, mine.record), record: mine.record } };
    throw error;
  }
}

/** The record's NUMA fields: the fitted topology and what it takes, or null on a node without a topology (rule H5). */
function numaFields(fit: NumaFit | undefined): Pick<InstanceRecord, 'numaTopology' | 'numaTaken'> {
  if (!fit) return {};
  if (fit.kind === 'fitted') return { numaTopology: fit.topology, numaTaken: fit.taken };
  return { numaTopology: null };
}

/**
 * The fit on the node's cells. A refusal is decided on a fresh read, never on a view corrected by
 * cancellations; and, as for devices, a claim that no longer fits may be this very request's, made before.
 */
async function fitOrFindOwn(
  store: Store,
  context: RetryContext<InstanceRecord>,
  nodeId: string,
  request: ClaimRequest,
  numa: NumaRequest,
  planned: { instanceUuid: string; fingerprint: string },
  view: CellView,
): Promise<Exclude<NumaFit, { kind: 'refused' }> | { found: ClaimResult }> {
  for (;;) {
    const withDevices = request.pciRequests.length > 0;
    const { node, cells } = await view.read(store, nodeId, withDevices);
    if (!node) throw new NodeNotFound(nodeId);
    const pci = withDevices ? { requests: pciRequestsOf(request), devices: view.devices } : undefined;
    // A claim that lost a race for a cell's cores chooses from a random core on (rule NU10), and every claim
    // first chooses around this container's own claims the cells may not show yet.
    const spread = view.races > 0 ? Math.floor(Math.random() * 1024) : 0;
    const [limits, around] = [numaLimitsOf(request, node), store.numaCells.aside(nodeId, cells)];
    const aside = around && fitOnCells(around, numa, limits, pci, spread);
    const fit = aside && aside.kind !== 'refused' ? aside : fitOnCells(cells, numa, limits, pci, spread);
    // Noted at once: other claims of this container may fit before this one's write is sent.
    if (fit.kind === 'fitted') view.hold(store, nodeId, fit.taken);
    if (fit.kind !== 'refused') return fit;
    if (!view.fresh) {
      view.forget();
      continue;
    }
    const mine = await ownClaim(store, nodeId, planned.instanceUuid, planned.fingerprint);
    if (mine) return { found: { created: claimedByMe(context.intended, mine.record), record: mine.record } };
    throw numaRefusalError(node, request, withDevices ? view.devices : undefined);
  }
}

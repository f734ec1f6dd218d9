// Placement (rules G4-G6): choose from the fleet view, claim with the ordinary conditional transaction, and on a
// refusal try the next candidate, a bounded number of times. Idempotent on the instance UUID: the placement's own
// record (INSTANCE#uuid / PLACEMENT, written in the claim's transaction) answers the same request sent again.
import {
  fingerprint,
  instanceUsage,
  rankCandidates,
  type ClaimRequest,
  type Filters,
  type GroupHere,
  type InstanceRecord,
  type Reason,
  type Strategy,
} from '../domain';
import {
  GroupNotFound,
  GroupPolicyViolation,
  InstanceConflict,
  InsufficientResources,
  NoValidHost,
  NodeNotFound,
} from '../errors';
import { claimInstance, type ClaimExtra } from './claim';
import type { Store } from './client';
import { fleet } from './fleet';
import { getInstance } from './instances';
import { ownerKey } from './items';
import { readItems } from './reads';
import { getGroupView, groupExtra } from './server-groups';
import { isTombstone } from './tombstone';

/** Claims tried before answering NoValidHost: each costs one transaction. */
export const MAX_ATTEMPTS = 5;

export interface PlacementRequest {
  claim: ClaimRequest;
  filters: Filters;
  strategy: Strategy;
}

export interface PlacementResult {
  created: boolean;
  nodeId: string;
  record: InstanceRecord;
  attempts: number;
}

const placementKey = (instanceUuid: string) => ({ pk: ownerKey(instanceUuid).pk, sk: 'PLACEMENT' });

/**
 * What this very request placed before (rules G5, G11): each claim's node, record and tries, or undefined when
 * none of its instances is claimed. InstanceConflict if one is claimed by another request, or not claimed at all.
 */
export async function placedBefore(store: Store, claims: ClaimRequest[]): Promise<PlacementResult[] | undefined> {
  const keys = claims.flatMap((c) => [ownerKey(c.instanceUuid), placementKey(c.instanceUuid)]);
  const items = await readItems(store, keys);
  const owners = claims.map((_, i) => items[2 * i]).map((o) => (o && !isTombstone(o) ? o : undefined));
  if (owners.every((o) => o === undefined)) return undefined;
  const other = claims.find((c, i) => owners[i]?.fingerprint !== fingerprint(c));
  if (other) throw new InstanceConflict(`Instance ${other.instanceUuid} is already claimed otherwise.`);
  return Promise.all(
    claims.map(async (c, i) => {
      const nodeId = String(owners[i]?.nodeId);
      const placed = items[2 * i + 1];
      const attempts = placed?.nodeId === nodeId ? Number(placed.attempts) : 1;
      return { created: false, nodeId, record: await getInstance(store, nodeId, c.instanceUuid), attempts };
    }),
  );
}

/** The group's members per node, as the candidates' filter and weigher read them (rules G8, G10). */
export async function groupHere(store: Store, groupId: string): Promise<(nodeId: string) => GroupHere> {
  const { policy, rules, members } = await getGroupView(store, groupId);
  const perNode = new Map<string, number>();
  for (const m of members) perNode.set(m.nodeId, (perNode.get(m.nodeId) ?? 0) + 1);
  const group = { policy, rules, memberCount: members.length, hostNode: members[0]?.nodeId };
  return (nodeId) => ({ group, here: perNode.get(nodeId) ?? 0 });
}

/** The claim's extra items: its server group's, and the placement's record of where and after how many tries. */
function extras(store: Store, claim: ClaimRequest, attempts: number): ClaimExtra {
  const group = claim.serverGroup === undefined ? undefined : groupExtra(store, claim.serverGroup);
  return {
    items: async (record) => [
      ...((await group?.items(record)) ?? []),
      {
        name: 'placement',
        item: {
          Put: {
            TableName: store.tableName,
            Item: { ...placementKey(record.instanceUuid), type: 'placement', nodeId: record.nodeId, attempts },
          },
        },
      },
    ],
    refusal: (reasons, record) => group?.refusal(reasons, record),
  };
}

const REFUSALS = [InsufficientResources, GroupPolicyViolation, NodeNotFound];

/** Places one instance (rule G5): 201 where it landed, 200 for the same request again, else NoValidHost. */
export async function place(store: Store, { claim, filters, strategy }: PlacementRequest): Promise<PlacementResult> {
  const [before] = (await placedBefore(store, [claim])) ?? [];
  if (before) return before;
  const started = Date.now();
  const view = fleet(store);
  const here = claim.serverGroup === undefined ? undefined : await groupHere(store, claim.serverGroup);
  const reasons: Partial<Record<Reason | 'RACED', number>> = {};
  const tried = new Set<string>();
  let attempts = 0;
  // A first pass on the view as it is; if it runs out, one more on a view read after the request started.
  for (let fresh = 0; fresh <= 1 && attempts < MAX_ATTEMPTS; fresh++) {
    const { nodes } = await view.get(fresh ? started : 0);
    const untried = [...nodes.values()].filter((n) => !tried.has(n.nodeId));
    const ranked = rankCandidates(untried, claim, filters, strategy, here, MAX_ATTEMPTS - attempts);
    if (fresh || !ranked.candidates.length) Object.assign(reasons, ranked.reasons);
    for (const { nodeId } of ranked.candidates) {
      attempts++;
      tried.add(nodeId);
      try {
        const { created, record } = await claimInstance(store, nodeId, claim, extras(store, claim, attempts));
        view.claimed(nodeId, instanceUsage(claim.flavor, claim.overhead, claim.volumeBacked));
        return { created, nodeId, record, attempts };
      } catch (error) {
        if (error instanceof GroupNotFound) throw error;
        // Another copy of this request may have placed it elsewhere meanwhile.
        if (error instanceof InstanceConflict) return ((await placedBefore(store, [claim])) ?? throwIt(error))[0]!;
        if (!REFUSALS.some((kind) => error instanceof kind)) throw error;
        reasons.RACED = (reasons.RACED ?? 0) + 1;
        view.refused(nodeId);
      }
    }
  }
  // A copy of this request running at once may have placed it on a node this one found full: its answer is ours.
  const [late] = (await placedBefore(store, [claim])) ?? [];
  if (late) return late;
  throw new NoValidHost(reasons, attempts);
}

const throwIt = (error: unknown): never => {
  throw error;
};

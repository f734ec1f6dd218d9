// Placement (rules G4-G6): choose from the fleet view, claim with the ordinary conditional transaction, and on a
// refusal try the next candidate, a bounded number of times. Idempotent on the instance UUID: the placement's own
// record (INSTANCE#uuid / PLACEMENT, written in the claim's transaction) answers the same request sent again.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
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
import { withRetry } from './retry';
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

/** The placement this very request made before, if any; InstanceConflict if the instance is claimed otherwise. */
async function earlier(store: Store, claim: ClaimRequest, print: string): Promise<PlacementResult | undefined> {
  const out = await withRetry(store, () =>
    store.doc.send(
      new QueryCommand({
        TableName: store.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': ownerKey(claim.instanceUuid).pk },
        ConsistentRead: true,
      }),
    ),
  );
  const owner = out.Items?.find((i) => i.sk === ownerKey(claim.instanceUuid).sk);
  if (!owner || isTombstone(owner)) return undefined;
  const nodeId = String(owner.nodeId);
  if (owner.fingerprint !== print)
    throw new InstanceConflict(`Instance ${claim.instanceUuid} is already claimed on node ${nodeId}.`);
  const placed = out.Items?.find((i) => i.sk === 'PLACEMENT' && i.nodeId === nodeId);
  const record = await getInstance(store, nodeId, claim.instanceUuid);
  return { created: false, nodeId, record, attempts: Number(placed?.attempts ?? 1) };
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
  const print = fingerprint(claim);
  const before = await earlier(store, claim, print);
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
    const ranked = rankCandidates(untried, claim, filters, strategy, here);
    if (fresh || !ranked.candidates.length) Object.assign(reasons, ranked.reasons);
    for (const { nodeId } of ranked.candidates.slice(0, MAX_ATTEMPTS - attempts)) {
      attempts++;
      tried.add(nodeId);
      try {
        const { created, record } = await claimInstance(store, nodeId, claim, extras(store, claim, attempts));
        view.claimed(nodeId, instanceUsage(claim.flavor, claim.overhead, claim.volumeBacked));
        return { created, nodeId, record, attempts };
      } catch (error) {
        if (error instanceof GroupNotFound) throw error;
        // Another copy of this request may have placed it elsewhere meanwhile.
        if (error instanceof InstanceConflict) return { ...((await earlier(store, claim, print)) ?? throwIt(error)) };
        if (!REFUSALS.some((kind) => error instanceof kind)) throw error;
        reasons.RACED = (reasons.RACED ?? 0) + 1;
        view.refused(nodeId);
      }
    }
  }
  throw new NoValidHost(reasons, attempts);
}

const throwIt = (error: unknown): never => {
  throw error;
};

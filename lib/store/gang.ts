// Gang placement (rule G11): every member placed, or none, in ONE TransactWriteItems. A member costs 3 items
// (record, owner, group member) and a node 2 (its update, the group's host item), plus the group's: 19 members on
// 19 nodes are 96 of DynamoDB's 100 actions.
import {
  add,
  claimGuards,
  instanceUsage,
  planClaim,
  ZERO,
  assignGang,
  type ClaimRequest,
  type Filters,
  type InstanceRecord,
  type Reason,
  type Strategy,
} from '../domain';
import { InstanceConflict, NoValidHost, ValidationError } from '../errors';
import { claimItems } from './claim';
import type { Store } from './client';
import { commit, type NamedItem, type Reasons, type Unexplained } from './commit';
import { fleet } from './fleet';
import { numaRequestOf } from './numa-claim';
import { failedNames } from './outcomes';
import { groupHere, placedBefore } from './placements';
import { withRetry } from './retry';
import { getServerGroup, joinAll } from './server-groups';
import { guardConditions, nodeUpdate } from './writes';

export interface GangRequest {
  members: Omit<ClaimRequest, 'serverGroup'>[];
  serverGroup?: string;
  filters: Filters;
  strategy: Strategy;
}

export interface GangResult {
  created: boolean;
  placements: { nodeId: string; record: InstanceRecord }[];
}

/** Plans tried before NoValidHost: the first on the view as it is, the others on views read since. */
const ROUNDS = 3;

type GangOutcome = { kind: 'taken' } | { kind: 'stale'; nodes: string[] } | Unexplained;

function classifyGang(reasons: Reasons): GangOutcome {
  const names = failedNames(reasons);
  if (names.some((n) => n.startsWith('owner:') || n.startsWith('instance:'))) return { kind: 'taken' };
  const suffix = (n: string) => n.slice(n.indexOf(':') + 1);
  const nodes = names.filter((n) => n.startsWith('node:') || n.startsWith('group-host:')).map(suffix);
  return names.length ? { kind: 'stale', nodes } : { kind: 'unexplained' };
}

/** The items of one plan: per node one update for all its members, per member its record and owner, the group's. */
function gangItems(
  store: Store,
  claims: ClaimRequest[],
  nodeIds: string[],
  group: Parameters<typeof joinAll>[1] | undefined,
) {
  const records: InstanceRecord[] = [];
  const items: NamedItem[] = [];
  const perNode = new Map<string, { amounts: typeof ZERO; claims: ClaimRequest[] }>();
  claims.forEach((claim, i) => {
    const nodeId = nodeIds[i] as string;
    const plan = planClaim(claim);
    const record: InstanceRecord = { nodeId, ...plan.record };
    records.push(record);
    for (const { name, item } of claimItems(store, record, plan))
      if (name !== 'node') items.push({ name: `${name}:${claim.instanceUuid}`, item });
    const n = perNode.get(nodeId) ?? { amounts: ZERO, claims: [] };
    n.amounts = add(n.amounts, plan.amounts);
    n.claims.push(claim);
    perNode.set(nodeId, n);
  });
  for (const [nodeId, n] of perNode) {
    // Each member's own limits, tested against everything the gang puts on the node.
    const conditions = (e: Parameters<ReturnType<typeof guardConditions>>[0]) =>
      n.claims.flatMap((c) => guardConditions(claimGuards(n.amounts, c.limits))(e));
    items.push({
      name: `node:${nodeId}`,
      item: nodeUpdate(store, nodeId, { amounts: n.amounts, tracked: n.claims.length, conditions }),
    });
  }
  if (group)
    items.push(...joinAll(store, group, records, (name, suffix) => (name === 'group' ? name : `${name}:${suffix}`)));
  return { items, records };
}

/** Places a gang all or none (rule G11): 201 with every member's node, 200 for the same request again. */
export async function placeGang(store: Store, request: GangRequest): Promise<GangResult> {
  const { serverGroup, filters, strategy } = request;
  const claims: ClaimRequest[] = request.members.map((m) => ({ ...m, ...(serverGroup ? { serverGroup } : {}) }));
  // The gang's one transaction has no room for NUMA cells' items: its members are placed one by one instead.
  const numa = claims.findIndex((c) => numaRequestOf(c) !== null);
  if (numa >= 0) {
    const message = 'gang members ask for no NUMA topology: place such instances one by one';
    throw new ValidationError(`Invalid gang: ${message}.`, [{ path: `instances.${numa}`, message }]);
  }
  const before = await placedBefore(store, claims);
  if (before) return { created: false, placements: before };
  const started = Date.now();
  return withRetry<GangResult, InstanceRecord[]>(store, async (context) => {
    // A write of this request whose answer was lost may have placed the gang: the view would then refuse it.
    const mine = context.intended.length ? await placedBefore(store, claims) : undefined;
    if (mine) return { created: true, placements: mine };
    let reasons: Partial<Record<Reason | 'RACED', number>> = {};
    for (let round = 0; round < ROUNDS; round++) {
      const group = serverGroup === undefined ? undefined : await getServerGroup(store, serverGroup);
      const here = serverGroup === undefined ? undefined : await groupHere(store, serverGroup);
      const { nodes } = await fleet(store).get(round ? started : 0);
      const plan = assignGang(nodes.values(), claims, filters, strategy, here);
      if ('reasons' in plan) {
        reasons = { ...plan.reasons, ...(reasons.RACED ? { RACED: reasons.RACED } : {}) };
        continue;
      }
      const { items, records } = gangItems(store, claims, plan.nodeIds, group);
      const outcome = await commit(store, context, { items, intent: records }, classifyGang);
      if (outcome.kind === 'committed') {
        for (const r of records) fleet(store).claimed(r.nodeId, instanceUsage(r.flavor, r.overhead, r.volumeBacked));
        return { created: true, placements: records.map((record) => ({ nodeId: record.nodeId, record })) };
      }
      if (outcome.kind === 'taken') {
        const placed = await placedBefore(store, claims);
        if (placed) return { created: context.intended.length > 0, placements: placed };
        throw new InstanceConflict('An instance of the gang is already claimed.');
      }
      reasons.RACED = (reasons.RACED ?? 0) + 1;
      for (const nodeId of outcome.nodes) fleet(store).refused(nodeId);
    }
    // A copy of this request running at once may have taken the room this one found missing: its answer is ours.
    const late = await placedBefore(store, claims);
    if (late) return { created: false, placements: late };
    throw new NoValidHost(reasons, ROUNDS);
  });
}

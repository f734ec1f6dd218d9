// The placement campaign's operations (placement-run.ts): each sends its requests as a client does
// (PlacementRun.call: a 5xx is sent again), applies the answers to the model, and leaves the judgements that need
// the whole step to its end. An answer that came after a 5xx is judged as the first send's would be (rules G5,
// G8, G11: the same request again is answered as itself), with two allowances, each where it is made: a 200
// where the first send's lost answer was 201, and two 201s between twin copies under faults that leave a write's
// fate unknown to its writer (500s, lost responses).
import type { Reply } from '../support/api';
import { amountsOf, type Filters, type Flavor } from './placement-model';
import type { Answer, PlacementRun, Sent } from './placement-run';

const MAX_ATTEMPTS = 5; // rule G5: a placement refused after this many tries proves nothing about the rest.

const noValidHost = (x: Reply) => x.status === 409 && x.body?.error === 'NoValidHost';
/** A claim's or gang's 201, or 200 once sent again: an earlier send may have made it, and only its answer was lost. */
const made = ({ reply, attempts }: Answer) => reply.status === 201 || (attempts > 1 && reply.status === 200);

/**
 * Whether a placement's copies answered 201 as often as they may: exactly the copy that made it, without faults.
 * One sent again after its first send committed answers 200, so none may be 201; and a copy whose write met a
 * 500 cannot tell its write from its twin's on the same node (README, "Known and accepted"), so both may be: the
 * hunt met it in 5 of 30 seeds, and never with conflicts, throttling and crashes alone.
 */
function createdRight(run: PlacementRun, answers: Answer[], created: number): boolean {
  if (created > 1) return run.ctx.ambiguous;
  return created === 1 || answers.some((a) => a.attempts > 1);
}

export async function place(
  run: PlacementRun,
  body: Record<string, unknown>,
  f: Filters,
  group: string | undefined,
  twin: boolean,
): Promise<void> {
  const uuid = body.instanceUuid as string;
  const answers = await Promise.all((twin ? [1, 2] : [1]).map(() => run.call('place', 'POST', '/placements', body)));
  const replies = answers.map((a) => a.reply);
  // Twin copies may part: one that found no room in its view (a release in the same step freeing room after
  // it looked) answers NoValidHost, the other places it. The placement is then the instance's answer.
  const placedReplies = replies.filter((x) => x.status === 201 || x.status === 200);
  const first = (placedReplies[0] ?? replies[0]) as Reply;
  if (twin && placedReplies.length === 1) run.count('place-twin-parted');
  if (noValidHost(first)) return refused(run, body, f, group, replies);
  const node = first.body.nodeId as string;
  const odd = replies.find((x) => !noValidHost(x) && (!placedReplies.includes(x) || x.body.nodeId !== node));
  if (odd) return run.wrong(`placement ${uuid}`, odd);
  const created = replies.filter((x) => x.status === 201).length;
  if (!createdRight(run, answers, created)) run.wrong(`${uuid}: ${created} copies answered 201`, first);
  if (!run.model.inScope(node, f)) run.wrong(`${uuid} placed on ${node}, out of its filters`);
  run.count(twin ? 'place-twin' : 'place');
  run.admit(uuid, node, body.flavor as Flavor, group);
  run.sent.set(uuid, { body, placed: [{ uuid, node }] });
}

function refused(
  run: PlacementRun,
  body: Record<string, unknown>,
  f: Filters,
  group: string | undefined,
  replies: Reply[],
) {
  const uuid = body.instanceUuid as string;
  const first = replies[0] as Reply;
  for (const other of replies) if (other.status !== 409) run.wrong(`twin of a refused ${uuid}`, other);
  run.count('place-refused');
  for (const why of Object.keys(first.body.refusals ?? {})) run.count(`place-refused-${why}`);
  if (first.body.attempts >= MAX_ATTEMPTS) return;
  const scope = run.nodeIds.filter((n) => run.model.inScope(n, f));
  run.afterStep(() => {
    const room = run.bounds.roomThroughout(amountsOf(body.flavor as Flavor), group, scope);
    if (room.length) run.wrong(`${uuid} refused while ${room} had room throughout`, first);
  });
}

export function named(
  run: PlacementRun,
  node: string,
  uuid: string,
  flavor: Flavor,
  group: string | undefined,
): () => Promise<void> {
  const body = { instanceUuid: uuid, flavor, ...run.groupField(group) };
  return async () => {
    const answer = await run.call('claim', 'POST', `/nodes/${node}/instances`, body);
    const { reply } = answer;
    if (made(answer)) {
      run.count('claim');
      return run.admit(uuid, node, flavor, group);
    }
    const error = reply.body?.error as string;
    if (reply.status !== 409 || !['InsufficientResources', 'GroupPolicyViolation'].includes(error)) {
      return run.wrong(`claim ${uuid} on ${node}`, reply);
    }
    run.count(`claim-${error}`);
    run.afterStep(() => {
      const room = run.bounds.roomThroughout(amountsOf(flavor), group, [node]);
      if (room.length) run.wrong(`claim ${uuid} refused (${error}) though ${node} had room throughout`, reply);
    });
  };
}

export function gang(
  run: PlacementRun,
  instances: { instanceUuid: string; flavor: Flavor }[],
  filters: Filters,
  group: string | undefined,
): () => Promise<void> {
  const body = { instances, ...run.wire(filters), ...run.groupField(group) };
  return async () => {
    const answer = await run.call('gang', 'POST', '/placements', body);
    const { reply } = answer;
    if (noValidHost(reply)) return gangRefused(run, instances, filters, group, reply);
    const placements = (reply.body?.placements ?? []) as { instanceUuid: string; nodeId: string }[];
    if (!made(answer) || placements.length !== instances.length) return run.wrong('gang', reply);
    run.count('gang');
    for (const [i, p] of placements.entries()) {
      if (p.instanceUuid !== instances[i]!.instanceUuid) run.wrong(`gang member ${i} answered out of order`, reply);
      if (!run.model.inScope(p.nodeId, filters)) run.wrong(`gang member on ${p.nodeId}, out of its filters`);
      run.admit(p.instanceUuid, p.nodeId, instances[i]!.flavor, group);
    }
    const placed = placements.map((p) => ({ uuid: p.instanceUuid, node: p.nodeId }));
    run.sent.set(placed[0]!.uuid, { body, placed });
  };
}

/**
 * A gang refused though no plan of it lost a race to another write (rule G11), so its last plans found no room in
 * views read since it began: wrong if the nodes in its filters could take all its members throughout the step,
 * whatever the order in which they were chosen. Counted by whether its nodes had some of those places or none.
 */
function gangRefused(
  run: PlacementRun,
  instances: { instanceUuid: string; flavor: Flavor }[],
  filters: Filters,
  group: string | undefined,
  reply: Reply,
) {
  run.count('gang-refused');
  if (reply.body.refusals?.RACED) return run.count('gang-refused-RACED');
  const scope = run.nodeIds.filter((n) => run.model.inScope(n, filters));
  run.afterStep(() => {
    const slots = run.bounds.gangSlotsThroughout(
      instances.map((m) => amountsOf(m.flavor)),
      group,
      scope,
    );
    if (slots >= instances.length)
      run.wrong(`gang of ${instances.length} refused while its nodes had ${slots} places throughout`, reply);
    run.count(slots ? 'gang-refused-short' : 'gang-refused-full');
  });
}

/** 204, also when sent again after a send that released it (the instance is then no longer tracked). */
export async function release(run: PlacementRun, uuid: string): Promise<void> {
  const live = run.model.live.get(uuid)!;
  const { reply } = await run.call('release', 'DELETE', `/nodes/${live.node}/instances/${uuid}`);
  if (reply.status !== 204) return run.wrong(`release ${uuid}`, reply);
  run.count('release');
  run.bounds.release(run.model.release(uuid));
  run.sent.delete(uuid);
}

/** The same request again: 200, the same node for every member, nothing written; so however often it is sent. */
export async function replay(run: PlacementRun, key: string, s: Sent): Promise<void> {
  const { reply } = await run.call('replay', 'POST', '/placements', s.body);
  const got = reply.body?.placements
    ? (reply.body.placements as { instanceUuid: string; nodeId: string }[]).map((p) => ({
        uuid: p.instanceUuid,
        node: p.nodeId,
      }))
    : [{ uuid: key, node: reply.body?.nodeId as string }];
  if (reply.status !== 200 || JSON.stringify(got) !== JSON.stringify(s.placed)) {
    return run.wrong(`replay of ${key} (placed ${JSON.stringify(s.placed)})`, reply);
  }
  run.count(s.placed.length > 1 ? 'replay-gang' : 'replay');
}

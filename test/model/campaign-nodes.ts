// A node's life beyond its claims: retired and registered again (drained first, or with a claim racing the
// delete), and audited, by an operator (no drift) or by its agent reporting orphans.
import { check, partition } from './campaign-checks';
import type { Run } from './campaign-run';
import { canon, Violation } from './campaign-types';
import type { Size } from './ledger-model';
import { FLAVORS, NO_OVERHEAD, NODES, STATES } from './fleet';
import type { Step } from './ops';

/**
 * An operator retires a node and registers one under the same id, as when a host is reinstalled: refused while
 * it tracks anything (409 NodeInUse, nothing changes). With `drain`, its instances are released and its holds
 * dropped first; with `race`, a claim is sent with the delete: it lands first (the delete is refused) or finds
 * no node (404). Deleted, the node leaves nothing in its partition, and registered again it starts from nothing.
 */
export async function retire(run: Run, step: Extract<Step, { kind: 'retire' }>): Promise<void> {
  const node = run.nodes[step.node] as string;
  const variant = NODES[step.node]?.[step.variant];
  if (!variant) return;
  if (step.drain) await drain(run, node);
  const { instances, holds } = run.model.holdings(node);
  if (instances.length + holds.length) {
    run.ctx.totals.ops++;
    const sent = await run.call('DELETE', `/nodes/${node}`);
    run.expect(sent, 409, `the delete of ${node}, which tracks ${instances.length + holds.length}`, 'NodeInUse');
    run.count('retire-in-use');
    return check(run, undefined);
  }
  if (!(step.race && (await claimRacingDelete(run, node)))) {
    run.ctx.totals.ops++;
    const deleted = await run.call('DELETE', `/nodes/${node}`);
    // A retry after the Lambda died once the node item was gone finds no node (and removes what it left).
    run.expect(deleted, deleted.attempts > 1 ? [204, 404] : 204, `the delete of ${node}`);
    await gone(run, node);
  }
  run.count('retire');
  await run.setup([step.node], step.variant);
}

/**
 * A claim sent with the delete of a node that tracks nothing: one of the two is refused. True if the delete
 * won; else the claim is released again, to leave the node as it was.
 */
async function claimRacingDelete(run: Run, node: string): Promise<boolean> {
  const uuid = run.uuid();
  const [flavor, state] = [FLAVORS[0] as Size['flavor'], STATES[0] as (typeof STATES)[number]];
  const body = { instanceUuid: uuid, flavor, ...state };
  run.ctx.totals.ops += 2;
  const [deleted, claimed] = await Promise.all([
    run.call('DELETE', `/nodes/${node}`),
    run.call('POST', `/nodes/${node}/instances`, body, { prefer: 'return=minimal' }),
  ]);
  const what = `a claim racing the delete of ${node} (claim ${claimed.reply.status}, delete ${deleted.reply.status})`;
  if (claimed.reply.status === 404) {
    run.expect(claimed, 404, what, 'NodeNotFound');
    run.expect(deleted, deleted.attempts > 1 ? [204, 404] : 204, what);
    await gone(run, node);
    run.count('retire-race-delete-won');
    return true;
  }
  run.expect(claimed, claimed.attempts > 1 ? [200, 201] : 201, what);
  run.expect(deleted, 409, what, 'NodeInUse');
  const size = { flavor, overhead: NO_OVERHEAD, volumeBacked: false, devices: [] };
  run.apply(claimed, undefined, () => run.model.claim(node, uuid, size, state));
  run.count('retire-race-claim-won');
  run.ctx.totals.ops++;
  const released = await run.call('DELETE', `/nodes/${node}/instances/${uuid}`);
  run.expect(released, 204, `the release of ${uuid}, which kept ${node} in use`);
  run.apply(released, undefined, () => run.model.release(uuid));
  return false;
}

/** Releases every instance on the node and drops every hold there, as a client would before retiring it. */
async function drain(run: Run, node: string): Promise<void> {
  for (const { uuid } of run.model.holdings(node).instances) {
    run.ctx.totals.ops++;
    const sent = await run.call('DELETE', `/nodes/${node}/instances/${uuid}`);
    run.expect(sent, 204, `the release of ${uuid} to retire ${node}`);
    run.apply(sent, undefined, () => run.model.release(uuid));
  }
  for (const { migration, role } of run.model.holdings(node).holds) {
    run.ctx.totals.ops++;
    const sent = await run.call('DELETE', `/nodes/${node}/move-claims/${migration.id}?flavor=${role}`);
    run.expect(sent, 204, `the drop of the ${role} hold of ${migration.id} to retire ${node}`);
    run.apply(sent, undefined, () => run.model.dropHold(migration.id, node, role));
  }
  run.count('retire-drain');
}

/** A deleted node: nothing left in its partition (devices, cells, waiting claims), and no view. */
async function gone(run: Run, node: string): Promise<void> {
  const left = (await partition(run, node)).map((i) => String(i.sk));
  run.ctx.totals.checks++;
  if (left.length) throw new Violation(`${node} was deleted, yet its partition still holds ${left.join(', ')}`);
  const view = await run.call('GET', `/nodes/${node}`);
  run.expect(view, 404, `the view of ${node}, deleted`, 'NodeNotFound');
  run.model.retire(node);
}

/** An agent's audit with its orphans: they replace the node's set, the drift is their change (rule M10). */
export async function agentAudit(
  run: Run,
  node: string,
  orphans: { instanceUuid: string; memoryMb: number }[],
): Promise<void> {
  run.ctx.totals.ops++;
  const before = run.model.orphanMemory(node);
  const sent = await run.call('POST', `/nodes/${node}/audit`, { orphans });
  run.expect(sent, 200, `agent audit of ${node}`);
  run.apply(sent, undefined, () => run.model.reportOrphans(node, orphans));
  const want = { memoryMbUsed: run.model.orphanMemory(node) - before, localGbUsed: 0, vcpusUsed: 0 };
  // A retry after a lost answer finds the set already replaced.
  if (sent.attempts === 1 && canon(sent.reply.body.drift) !== canon(want))
    throw new Violation(`agent audit of ${node} found drift ${canon(sent.reply.body.drift)}, the model ${canon(want)}`);
  run.count('audit-orphans');
  await check(run, undefined);
}

export async function audit(run: Run, node: string): Promise<void> {
  run.ctx.totals.ops++;
  const sent = await run.call('POST', `/nodes/${node}/audit`, {});
  run.expect(sent, 200, `audit of ${node}`);
  const { drift, unknownInstances, missingInstances } = sent.reply.body;
  if (
    canon(drift) !== canon({ memoryMbUsed: 0, localGbUsed: 0, vcpusUsed: 0 }) ||
    unknownInstances.length ||
    missingInstances.length
  ) {
    throw new Violation(`audit of ${node} found drift ${canon(drift)}: the ledger was not exact`);
  }
  run.ctx.totals.checks++;
  run.count('audit');
}

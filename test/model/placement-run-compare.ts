// After every step of the placement campaign, the service's state against the model's: each node's instances and
// usage (its partition read with the campaign's own client, the ledger's invariants checked), each group's host
// item per node, and each group's members as the API lists them. Plain reads, never faulted.
import { api } from '../support/api';
import { partition } from '../support/ledger';
import { ledgerDiscrepancies, nodeLedgerOf } from '../support/ledger-check';
import { GROUPS } from './placement-model';
import type { PlacementRun } from './placement-run';

/** The service's state equals the model's: instances per node, usage, group host items and members. */
export async function compare(run: PlacementRun): Promise<void> {
  const { model } = run;
  const same = (what: string, got: unknown, want: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(want))
      run.wrong(`${what}: service ${JSON.stringify(got)}, model ${JSON.stringify(want)}`);
    run.count('checks');
  };
  for (const node of run.nodeIds) {
    const items = await partition(run.ctx.checker, node);
    const read = nodeLedgerOf(items)!;
    for (const d of ledgerDiscrepancies(read.ledger)) run.wrong(`${node}: ${d}`);
    const uuids = read.ledger.instances.map((i) => String(i.instanceUuid)).sort();
    same(
      `${node} instances`,
      uuids,
      [...model.live.values()]
        .filter((l) => l.node === node)
        .map((l) => l.uuid)
        .sort(),
    );
    same(`${node} claimed`, read.ledger.sum, model.claimed(node));
    for (const g of GROUPS) {
      const host = items.find((i) => i.sk === `GROUP#${run.scoped(g.id)}`);
      same(`${node} host item of ${g.id}`, Number(host?.members ?? 0), model.membership(g.id).get(node) ?? 0);
    }
  }
  for (const g of GROUPS) {
    const reply = await api('GET', `/server-groups/${run.scoped(g.id)}`);
    const members = (reply.body.members as { instanceUuid: string; nodeId: string }[]).map(
      (m) => `${m.instanceUuid}@${m.nodeId}`,
    );
    const want = [...model.live.values()].filter((l) => l.group === g.id).map((l) => `${l.uuid}@${l.node}`);
    same(`members of ${g.id}`, members.sort(), want.sort());
  }
}

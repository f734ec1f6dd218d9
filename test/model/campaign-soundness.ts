// The step's claims judged soundly, since the commit order of concurrent workers is unknown: a refused claim must
// not fit even at the highest usage its node could have had during the step, an admitted one must fit at the
// lowest, and no node that admitted a claim is over its limits.
import type { Run } from './campaign-run';
import { canon, Violation, type StepLog } from './campaign-types';
import { LedgerModel, limitsOf, RES, type Amounts } from './ledger-model';

/** The step's claims, judged against what the node could have held while they ran. */
export function sound(run: Run, log: StepLog): void {
  const problems = run.model.exclusive();
  run.ctx.totals.checks++;
  for (const c of log.claims) {
    const admitted = log.claims.filter((o) => o.ok && o.node === c.node);
    if (!c.ok && !c.numaRefused) {
      const highest = { ...(log.usedBefore.get(c.node) as Amounts) };
      for (const o of admitted) for (const r of RES) highest[r] += o.requested[r];
      const held = new Set([...(log.heldBefore.get(c.node) ?? []), ...admitted.flatMap((o) => o.chosen)]);
      const pciFits = c.pci.length === 0 || run.model.canMeet(c.node, c.pci, held);
      if (LedgerModel.fits(c.limits, highest, c.requested) && pciFits) {
        problems.push(
          `${c.what} was refused, yet ${canon(c.requested)} fits under ${canon(c.limits)} even at ${canon(highest)}${c.pci.length ? ' and its devices were free' : ''}`,
        );
      }
    } else {
      const lowest = { ...(log.usedBefore.get(c.node) as Amounts) };
      const freed = log.freed.get(c.node);
      for (const r of RES) lowest[r] -= freed?.[r] ?? 0;
      if (!LedgerModel.fits(c.limits, lowest, c.requested)) {
        problems.push(
          `${c.what} was admitted, yet ${canon(c.requested)} does not fit under ${canon(c.limits)} even at ${canon(lowest)}`,
        );
      }
    }
    run.ctx.totals.checks++;
  }
  // No limit exceeded: once a claim landed on a node, its usage stayed within the node's limits.
  for (const node of run.nodes) {
    const used = run.model.used(node);
    const limits = limitsOf(run.model.node(node).inventory);
    for (const r of RES) {
      if (
        used[r] > limits[r] &&
        log.claims.some((c) => c.ok && c.node === node && c.requested[r] > 0 && c.limits[r] !== null)
      ) {
        problems.push(`${node} uses ${used[r]} ${r} over its limit ${limits[r]} after admitting a claim`);
      }
    }
    run.ctx.totals.checks++;
  }
  if (problems.length) throw new Violation(problems.join('\n'));
}

// Live migration through the handlers (docs/moves.md, rules L1, L2): instances claimed on source nodes, a
// live-migration move claim on a node of a second set, then `completed`. The ledger is checked after the
// claims (every instance held on both sides) and after completed (the sources empty, no hold left).
import { randomUUID } from 'node:crypto';
import { scale } from '../../lib/domain';
import { checkAndDrop, checkLedger } from './checks';
import { openTable } from './counting';
import { changeStatus, claimEvent, claimHandler, httpEvent, invoke, moveClaimHandler } from './handlers';
import { registerNodes, spreadLoad, stepper, type StepRun } from './loads';
import { fmt, OP_ALIGN, OP_HEADER, opCells, table } from './report';
import { AMOUNTS, FLAVOR, ROOMY_NODE, SETTINGS } from './settings';

/** The resizes' sizes: `instances` live-migrated from `nodes` source nodes to `nodes` destination nodes. */
const LIVE = SETTINGS.resize;

export type LiveRun = StepRun<'cross-node'>;

const liveClaimEvent = (destNodeId: string, sourceNodeId: string, instanceUuid: string, migrationId: string) =>
  httpEvent(
    'POST',
    '/nodes/{nodeId}/move-claims',
    { nodeId: destNodeId },
    { migrationId, instanceUuid, moveType: 'live-migration', sourceNodeId },
    { prefer: 'return=minimal' },
  );

export async function liveRun(prefix: string, instances = LIVE.instances): Promise<LiveRun> {
  const { nodes, concurrency } = LIVE;
  const source = spreadLoad('lsrc', instances, nodes, concurrency);
  const dest = spreadLoad('ldst', instances, nodes, concurrency, 7);
  const nodeIds = [...source.nodeIds, ...dest.nodeIds];
  const store = await openTable(`${prefix}-live`);
  await registerNodes(nodeIds, ROOMY_NODE);
  const uuids = source.picks.map(() => randomUUID());
  const migrations = source.picks.map(() => `live-${randomUUID()}`);
  const run: LiveRun = { variant: 'cross-node', steps: [], checks: [], expectations: [] };
  const step = stepper(run, 'live migration', store.tableName, instances, concurrency);

  await step('claim (return=minimal)', 201, (i) =>
    invoke(claimHandler, 'claim-instance', claimEvent(source.picks[i] ?? '', uuids[i] ?? '', true)),
  );
  await step('live-migration claim (return=minimal)', 201, (i) =>
    invoke(
      moveClaimHandler,
      'claim-move',
      liveClaimEvent(dest.picks[i] ?? '', source.picks[i] ?? '', uuids[i] ?? '', migrations[i] ?? ''),
    ),
  );
  const moving = { records: instances, holds: instances, claimed: scale(AMOUNTS, 2 * instances) };
  run.checks.push(await checkLedger(store, nodeIds, { ...moving, stage: 'after live-migration claims' }));
  await step('status completed', 200, (i) => changeStatus(migrations[i] ?? '', 'completed'));
  const done = { records: instances, claimed: scale(AMOUNTS, instances), empty: source.nodeIds };
  run.checks.push(await checkAndDrop(store, nodeIds, { ...done, stage: 'after completed' }));
  return run;
}

/** The targets of issues 15 and 17: requests per op of the claim and of the status. */
const TARGETS: Record<string, number> = { 'live-migration claim (return=minimal)': 2, 'status completed': 2 };

export function printLive(run: LiveRun | undefined): void {
  if (!run) return;
  const { instances, nodes, concurrency } = LIVE;
  console.log(
    `\nLive migration through the handlers (${instances} instances of ${FLAVOR.vcpus} vCPU from ${nodes} source to ` +
      `${nodes} destination nodes; concurrency ${concurrency}, one run)`,
  );
  const rows = run.steps.map((m) => [m.scenario, ...opCells(m)]);
  console.log(table(['step', ...OP_HEADER], rows, `l${OP_ALIGN}`));
  for (const m of run.steps.filter((x) => TARGETS[x.scenario] !== undefined)) {
    const target = TARGETS[m.scenario] ?? 0;
    const verdict = m.requests.perOp <= target ? 'within' : 'OVER';
    console.log(`  ${m.scenario}: ${fmt(m.requests.perOp, 2)} requests per op, ${verdict} the target of ${target}`);
  }
}

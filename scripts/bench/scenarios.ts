// The scenarios through the handlers: claims on each path, the lifecycle of an instance, resizes, and the
// warm-up that runs a little of each first.
import { randomUUID } from 'node:crypto';
import { add, scale } from '../../lib/domain';
import { checkAndDrop, checkLedger, type LedgerCheck } from './checks';
import { openTable } from './counting';
import { changeStatus, claimEvent, claimHandler, instanceEvent, invoke, moveClaimEvent, moveClaimHandler, releaseHandler, updateHandler } from './handlers';
import { claimOp, registerNodes, SCENARIOS, spreadLoad, stepper, type ClaimLoad, type ClaimPath, type ScenarioKey, type StepRun } from './loads';
import { drive, measure, setPhase, type Measured } from './measure';
import { pciRun } from './pci';
import { AMOUNTS, NEW_AMOUNTS, PATCH_BODY, ROOMY_NODE, SETTINGS } from './settings';

export async function claimRun(load: ClaimLoad, path: ClaimPath, run: number): Promise<{ measured: Measured; check: LedgerCheck }> {
  const store = await openTable(`${load.key}-${path}`);
  await registerNodes(load.nodeIds, load.inventory);
  const op = claimOp(load, path, store);
  const scenario = SCENARIOS[`${load.key}/${path}` as ScenarioKey];
  if (!scenario) throw new Error(`no scenario ${load.key}/${path}`);
  const measured = await measure(scenario, run, store.tableName, load.claims, load.concurrency, op);
  return { measured, check: await checkAndDrop(store, load.nodeIds, { records: measured.statuses['201'] ?? 0 }) };
}

/** Claims on a fresh table, then PATCHes and releases them through the handlers. */
export async function lifecycleRun(
  prefix: string, load: ClaimLoad, opsConcurrency: number,
): Promise<{ claim: Measured; patch: Measured; release: Measured; check: LedgerCheck }> {
  const store = await openTable(prefix);
  await registerNodes(load.nodeIds, load.inventory);
  const uuids = load.picks.map(() => randomUUID());
  const claim = await measure('claim (return=minimal)', 1, store.tableName, load.claims, load.concurrency, (i) =>
    invoke(claimHandler, 'claim-instance', claimEvent(load.picks[i] ?? '', uuids[i] ?? '', true)),
  );
  const patch = await measure('PATCH instance (vmState stopped)', 1, store.tableName, load.claims, opsConcurrency, (i) =>
    invoke(updateHandler, 'update-instance', instanceEvent('PATCH', load.picks[i] ?? '', uuids[i] ?? '', PATCH_BODY)),
  );
  const release = await measure('DELETE instance (release)', 1, store.tableName, load.claims, opsConcurrency, (i) =>
    invoke(releaseHandler, 'release-instance', instanceEvent('DELETE', load.picks[i] ?? '', uuids[i] ?? '')),
  );
  return { claim, patch, release, check: await checkAndDrop(store, load.nodeIds, { records: 0 }) };
}

export type ResizeVariant = 'cross-node' | 'same-host';

export type ResizeRun = StepRun<ResizeVariant>;

/**
 * Nova's resize through the handlers, one step at a time over all instances: claim on a source node,
 * move claim (the destination's hold of the new size), then the statuses. Cross-node: the move claim
 * on a node of a second set, `finished` (the instance moves, the source keeps the old size), then
 * `confirmed` (the source lets go). Same-host: the move claim on the instance's own node, then
 * `confirmed`. The ledger is checked between the steps and after the last, when no hold may be left
 * and, cross-node, the source nodes must be empty.
 */
export async function resizeRun(prefix: string, variant: ResizeVariant, instances: number): Promise<ResizeRun> {
  const { nodes, concurrency } = SETTINGS.resize;
  const cross = variant === 'cross-node';
  const source = spreadLoad(cross ? 'src' : 'host', instances, nodes, concurrency);
  // A second seed, so that the instances of one source node spread over the destinations.
  const dest = cross ? spreadLoad('dst', instances, nodes, concurrency, 7) : source;
  const nodeIds = cross ? [...source.nodeIds, ...dest.nodeIds] : source.nodeIds;
  const store = await openTable(`${prefix}-${variant}`);
  await registerNodes(nodeIds, ROOMY_NODE);
  const uuids = source.picks.map(() => randomUUID());
  const migrations = source.picks.map(() => `resize-${randomUUID()}`);
  const run: ResizeRun = { variant, steps: [], checks: [], expectations: [] };
  const step = stepper(run, 'resize', store.tableName, instances, concurrency);
  // While a move is under way each instance is counted at both sizes: its record and a hold.
  const moving = { records: instances, holds: instances, claimed: scale(add(AMOUNTS, NEW_AMOUNTS), instances) };

  await step('claim (return=minimal)', 201, (i) =>
    invoke(claimHandler, 'claim-instance', claimEvent(source.picks[i] ?? '', uuids[i] ?? '', true)),
  );
  await step('move claim (return=minimal)', 201, (i) =>
    invoke(moveClaimHandler, 'claim-move', moveClaimEvent(dest.picks[i] ?? '', source.picks[i] ?? '', uuids[i] ?? '', migrations[i] ?? '')),
  );
  run.checks.push(await checkLedger(store, nodeIds, { ...moving, stage: 'after move claims' }));
  if (cross) {
    await step('status finished', 200, (i) => changeStatus(migrations[i] ?? '', 'finished'));
    run.checks.push(await checkLedger(store, nodeIds, { ...moving, stage: 'after finished' }));
  }
  await step('status confirmed', 200, (i) => changeStatus(migrations[i] ?? '', 'confirmed'));
  const done = { records: instances, claimed: scale(NEW_AMOUNTS, instances), empty: cross ? source.nodeIds : [] };
  run.checks.push(await checkAndDrop(store, nodeIds, { ...done, stage: 'after confirmed' }));
  return run;
}


export async function warmUp(): Promise<LedgerCheck[]> {
  const { bareClaims, claims, nodes, concurrency } = SETTINGS.warmup;
  const bare = spreadLoad('warm', bareClaims, nodes, concurrency);
  const load = spreadLoad('warm', claims, nodes, concurrency);
  setPhase('warm-up: ');
  try {
    const store = await openTable('warmup');
    await registerNodes(load.nodeIds, load.inventory);
    let created = 0;
    for (const [path, l] of [['baseline', bare], ['service', load], ['service-view', load]] as const) {
      const { statuses } = await drive(path, l.claims, concurrency, claimOp(l, path, store));
      created += statuses['201'] ?? 0;
    }
    const check = await checkAndDrop(store, load.nodeIds, { records: created });
    const lifecycle = await lifecycleRun('warmup-lifecycle', load, concurrency);
    const resize = await resizeRun('warmup-resize', 'cross-node', SETTINGS.resize.warmup);
    const pci = await pciRun('warmup-pci', 'steady', SETTINGS.pci.warmup);
    return [check, lifecycle.check, ...resize.checks, ...pci.checks];
  } finally {
    setPhase('');
  }
}

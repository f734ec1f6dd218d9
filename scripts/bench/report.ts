// The report: the tables and lines `npm run bench` prints.
import { counts, type Counts } from './counting';
import type { Figures } from './run';
import type { Measured } from './measure';
import type { PciRun } from './pci';
import type { AuditFigures } from './audit';
import { FLAVOR, NEW_FLAVOR, PCI_DEVICES, SETTINGS } from './settings';
import { SCENARIOS } from './loads';

export function table(header: string[], rows: string[][], align: string): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (align[c] === 'r' ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export const fmt = (n: number, digits = 1) => n.toFixed(digits);
export const perCommand = (c: Counts) => Object.entries(c).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(', ');

export const dbCpu = (m: Measured) => (m.dbCpuMsPerOp === null ? '-' : fmt(m.dbCpuMsPerOp, 2));
/** The columns of a table of operations, after the column(s) naming the operation. */
export const OP_HEADER = ['ops', 'conc', 'ops/s', 'p50 ms', 'p99 ms', 'cpu ms', 'db cpu', 'req/op', 'requests per op by command', 'statuses'];
export const OP_ALIGN = 'rrrrrrrrll';
export const opCells = (m: Measured) => [
  String(m.ops), String(m.concurrency), fmt(m.opsPerSecond), fmt(m.p50Ms), fmt(m.p99Ms), fmt(m.nodeCpuMsPerOp, 2), dbCpu(m),
  fmt(m.requests.perOp, 2), perCommand(m.requests.perOpByCommand), counts(m.statuses),
];
export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? 0;
/** The run with the median claims/s (the lower middle one for an even count). */
export const medianRun = (runs: Measured[]) => {
  const rate = median(runs.map((r) => r.opsPerSecond));
  return runs.find((r) => r.opsPerSecond === rate) as Measured;
};

/** A step's count of requests of one command, and of its failed TransactWriteItems (retries: every op ends in one that succeeds). */
export const commandCount = (m: Measured, command: string) => Math.round((m.requests.perOpByCommand[command] ?? 0) * m.ops);
export const failedWrites = (m: Measured) =>
  Object.entries(m.requests.failures).reduce((n, [k, v]) => n + (k.startsWith('TransactWriteItems ') ? v : 0), 0);

/** Where a PCI step's requests went: the reads, the writes, and what made writes fail. */
export function pciRequestsLine(m: Measured, claims: boolean): string {
  const [reads, writes, failed] = [commandCount(m, 'Query'), commandCount(m, 'TransactWriteItems'), failedWrites(m)];
  const parts = [
    `${fmt(m.requests.perOp, 2)} requests per op`,
    `${writes} TransactWriteItems, ${failed} of them failed (${fmt(failed / m.ops, 2)} retries per op${failed ? `: ${counts(m.requests.cancelled)}` : ''})`,
    `${reads} Query`,
  ];
  // A claim's attempt reads only without a fresh copy, so the attempts that did not read chose from the copy.
  if (claims) parts.push(`${writes - reads} of ${writes} attempts chose from the fresh copy without a read`);
  return parts.join('; ');
}

export function printPci(runs: PciRun[]): void {
  const { pfs, vfsPerPf, claims, concurrency, bursts } = SETTINGS.pci;
  console.log(
    `\nPCI devices through the handlers (one node: ${pfs} PFs 8086:1572 with ${vfsPerPf} VFs 8086:154c each, ` +
      `${PCI_DEVICES.length} devices; every claim asks for 1 VF, return=minimal; one run each)`,
  );
  const steps = runs.flatMap((run) => run.steps.map((m) => [run.variant, m.scenario, ...opCells(m)]));
  console.log(table(['variant', 'step', ...OP_HEADER], steps, `ll${OP_ALIGN}`));
  console.log(
    `steady: ${claims} claims at concurrency ${concurrency}, all released, then claimed again; bursts: ${bursts.claims} claims ` +
      `on a fresh node, ${bursts.size} at once and ${bursts.pauseMs} ms between bursts (ops/s over the bursts' own time).\n` +
      'A claim reads the device list (one Query, skipped while this container\'s copy is under 2 s old) and writes one ' +
      'transaction: at most 2 requests. A release reads the record (GetItem), the devices (Query) only without a fresh ' +
      'copy that shows them held by the instance, then writes one transaction: 2, or 3 without the copy. Beyond that, retries. A failed write names the items whose condition failed: a VF with its PF, ' +
      'the VF was taken since it was read; the PF alone, the VF was free but a sibling VF was taken or freed (each changes the PF\'s ' +
      'busy count and version, and the write is conditioned on the version read).',
  );
  for (const run of runs) {
    for (const m of run.steps) console.log(`  ${run.variant}, ${m.scenario}: ${pciRequestsLine(m, !m.scenario.startsWith('DELETE'))}`);
  }
  console.log(
    'Checked after each step: the ledger exact (device items count as no usage), no device held twice, one VF per ' +
      'answer, device owners = the records\' devices, each PF\'s busy count = its VFs held, and the pools of GET /nodes/{id}:',
  );
  for (const run of runs) {
    for (const c of run.checks) console.log(`  ${run.variant}, ${(c.stage ?? '').replace(/^pci /, '')}: ${c.pools ?? '-'}; ${c.ok ? 'ok' : `FAIL: ${c.problems.join('; ')}`}`);
  }
  const claimSteps = runs.flatMap((run) => run.steps.filter((m) => !m.scenario.startsWith('DELETE')));
  const over = claimSteps.filter((m) => m.requests.perOp > 2);
  if (!over.length) return;
  const failed = over.reduce((n, m) => n + failedWrites(m), 0);
  const pfOnly = over.reduce((n, m) => n + (m.requests.cancelled['ConditionalCheckFailed on PF'] ?? 0), 0);
  const ops = over.reduce((n, m) => n + m.ops, 0);
  console.log(
    `Above 2 requests per claim in ${over.length} of ${claimSteps.length} claim steps: ${failed} failed writes over ${ops} claims, ` +
      `each costing another write and often a Query (a failure drops the copy, but the next write of another claim puts back ` +
      `its own view, which misses what committed alongside it). ${pfOnly} of the ${failed} failed on the PF alone: ` +
      `claims of different VFs of one PF exclude each other, since each VF claim rewrites its PF conditioned on the version it ` +
      `read, so of the claims that read the same devices at most one per PF (${pfs} here) can commit.`,
  );
}

export interface Ratio {
  median: number;
  perRound: number[];
}

function printClaims(f: Figures, chosen: Record<string, Measured>, ratios: Record<string, Ratio>): void {
  const order = Object.values(SCENARIOS).filter((name) => chosen[name]);
  console.log(`\nClaims (per scenario the median of ${SETTINGS.repeats} runs by claims/s, each on a fresh table after a warm-up)`);
  console.log(
    table(
      ['scenario', 'claims', 'conc', 'claims/s', 'each run', 'p50 ms', 'p99 ms', 'cpu ms', 'db cpu', 'req/claim', 'requests per claim by command', 'statuses'],
      order.map((name) => {
        const m = chosen[name] as Measured;
        return [
          name, String(m.ops), String(m.concurrency), fmt(m.opsPerSecond), (f.runs[name] ?? []).map((r) => fmt(r.opsPerSecond, 0)).join(' / '),
          fmt(m.p50Ms), fmt(m.p99Ms), fmt(m.nodeCpuMsPerOp, 2), dbCpu(m), fmt(m.requests.perOp, 2),
          perCommand(m.requests.perOpByCommand), counts(m.statuses),
        ];
      }),
      'lrrrrrrrrrll',
    ),
  );
  console.log(
    'cpu ms: CPU time of this Node process per claim (handler, SDK, event loop); db cpu: CPU ms of DynamoDB Local per claim.',
  );
  const spreads = Object.values(f.runs).map((list) => {
    const rates = list.map((m) => m.opsPerSecond);
    return 1 - Math.min(...rates) / Math.max(...rates);
  });
  console.log(`Between the runs of one scenario claims/s differed by up to ${fmt(100 * Math.max(...spreads), 0)}%.`);
  console.log('\nService / baseline throughput (median over rounds of service / baseline run of the same round)');
  for (const [what, r] of Object.entries(ratios)) {
    console.log(`  ${what}: ${fmt(r.median, 2)}  (rounds: ${r.perRound.map((x) => fmt(x, 2)).join(', ')})`);
  }
  const failed = order.filter((name) => Object.keys(chosen[name]?.requests.failures ?? {}).length);
  if (failed.length) {
    console.log('\nFailed DynamoDB requests in those runs (refusals are cancelled transactions)');
    for (const name of failed) console.log(`  ${name}: ${counts(chosen[name]?.requests.failures ?? {})}`);
  }
}

function printMoves(f: Figures): void {
  const life = [f.lifecycle.claim, f.lifecycle.patch, f.lifecycle.release];
  console.log(`\nInstance lifecycle through the handlers (${SETTINGS.lifecycle.instances} instances on ${SETTINGS.lifecycle.nodes} nodes, one run)`);
  console.log(table(['operation', ...OP_HEADER], life.map((m) => [m.scenario, ...opCells(m)]), `l${OP_ALIGN}`));

  const { instances, nodes, concurrency } = SETTINGS.resize;
  console.log(
    `\nResize through the handlers (${instances} instances, ${FLAVOR.vcpus} to ${NEW_FLAVOR.vcpus} vCPUs; cross-node from ` +
      `${nodes} source to ${nodes} other nodes, same-host on ${nodes} nodes; concurrency ${concurrency}, one run each)`,
  );
  const steps = f.resize.flatMap((run) => run.steps.map((m) => [run.variant, m.scenario, ...opCells(m)]));
  console.log(table(['variant', 'step', ...OP_HEADER], steps, `ll${OP_ALIGN}`));
  console.log(
    'A move claim reads the migration and the instance at once, then writes one transaction; a status change reads the ' +
      'migration (its item carries what the plan needs), then writes one transaction. More than that per op means retries.',
  );
  for (const run of f.resize) {
    for (const m of run.steps.filter((x) => Object.keys(x.requests.failures).length)) {
      console.log(`  failed requests, ${run.variant} ${m.scenario}: ${counts(m.requests.failures)}`);
    }
  }
}

function printChecks(f: Figures, memory: Record<string, number>): void {
  console.log(
    '\nExactness of the ledger, per table (usage = reserved + records + move holds, headroom = limit - used, within limits, ' +
      'trackedCount = records + holds)',
  );
  console.log(
    table(
      ['table', 'nodes', 'records', 'expected', 'holds', 'expected', 'result'],
      f.checks.map((c) => [
        `${c.table}${c.stage ? ` ${c.stage}` : ''}`, String(c.nodes), String(c.instanceRecords), String(c.expectedRecords),
        String(c.holds), String(c.expectedHolds), c.ok ? 'ok' : `FAIL: ${c.problems.slice(0, 3).join('; ')}`,
      ]),
      'lrrrrrl',
    ),
  );
  const wrong = f.expectations.filter((e) => !e.ok);
  console.log(`\nStatus codes as expected in ${f.expectations.length - wrong.length} of ${f.expectations.length} runs`);
  for (const e of wrong) console.log(`  UNEXPECTED ${e.what}`);
  console.log(`\nMemory: peak RSS ${fmt(memory.peakRssMb ?? 0)} MB, heap used after the run ${fmt(memory.heapUsedMb ?? 0)} MB`);
}

export function printReport(f: Figures, chosen: Record<string, Measured>, ratios: Record<string, Ratio>, memory: Record<string, number>): void {
  printClaims(f, chosen, ratios);
  printMoves(f);
  printPci(f.pci);
  printChecks(f, memory);
}

export function printAudit(runs: AuditFigures[]): void {
  console.log('\nThe audit of one node (POST /nodes/{id}/audit through the handler; 5 clean audits, then one after corrupting the node item)');
  console.log(
    table(
      ['instances', 'clean p50 ms', 'clean req', 'repair ms', 'repair req', 'requests by command (repair)', 'repaired exact'],
      runs.map((r) => [
        String(r.instances), r.clean.p50Ms.toFixed(1), r.clean.requests.perOp.toFixed(2), r.repair.p50Ms.toFixed(1),
        r.repair.requests.perOp.toFixed(2),
        Object.entries(r.repair.requests.perOpByCommand).map(([c, v]) => `${c} ${v}`).join(', '), r.repairedOk ? 'ok' : 'NO',
      ]),
      'rrrrrll',
    ),
  );
}

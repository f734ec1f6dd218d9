// The report of what operations would cost in AWS: units per operation, and claims under contention.
import { counts } from './counting';
import { contentionTargets, type ContentionRun } from './contention';
import { fmt, perCommand, table } from './report';
import type { UnitFigures } from './units';

export interface Target {
  what: string;
  met: boolean;
}

const KB = 1024;

/** A claim ≤ 6 write units on the node hosting 100 instances of 100 projects; the node item ≤ 1 KB. */
export function unitTargets(f: UnitFigures): Target[] {
  const claim = f.operations.find((o) => o.operation === 'claim (return=minimal)');
  const nodeBytes = Math.max(f.nodeItemBytes.hosting, f.nodeItemBytes.after, claim?.maxBytes.node ?? 0);
  return [
    { what: `a claim ≤ 6 WCU on a node hosting ${f.instances} instances of as many projects (${fmt(claim?.wcuPerOp ?? NaN, 1)})`, met: (claim?.wcuPerOp ?? Infinity) <= 6 },
    { what: `the node item ≤ 1 KB (${nodeBytes} bytes)`, met: nodeBytes <= KB },
  ];
}

export const targetLine = (t: Target) => `  ${t.met ? 'met' : 'NOT MET'}: ${t.what}`;

export function printUnits(f: UnitFigures): void {
  console.log(
    `\nWrite and read units per operation as AWS would charge them (from the items written and read; one at a time, ` +
      `on a node hosting ${f.instances} instances of as many projects; transactions 2 WCU per started KB of each item)`,
  );
  console.log(
    table(
      ['operation', 'ops', 'req/op', 'requests per op by command', 'WCU/op', 'RCU/op', 'WCU by item', 'largest item bytes'],
      f.operations.map((o) => [
        o.operation, String(o.measured.ops), fmt(o.measured.requests.perOp, 2), perCommand(o.measured.requests.perOpByCommand),
        fmt(o.wcuPerOp, 1), fmt(o.rcuPerOp, 1), perCommand(o.wcuByKindPerOp), counts(o.maxBytes).replace(/×/g, ' '),
      ]),
      'lrrlrrll',
    ),
  );
  console.log(`The node item: ${f.nodeItemBytes.hosting} bytes hosting ${f.instances} instances, ${f.nodeItemBytes.after} bytes after the operations.`);
  for (const t of unitTargets(f)) console.log(targetLine(t));
  console.log(`  ledger after: ${f.check.ok ? 'ok' : `FAIL: ${f.check.problems.join('; ')}`}`);
}

export function printContention(runs: ContentionRun[]): void {
  const latency = runs[0]?.latencyMs ?? 0;
  console.log(
    `\nClaims on one node under simulated contention (every request the latency shown, half of it in the service; a transaction that ` +
      'overlaps another on the node item is cancelled with TransactionConflict, as in AWS; claims that meet one are combined, CU5)',
  );
  console.log(
    table(
      ['claimers', 'nodes', 'latency ms', 'claims', 'goodput/s', 'conflicts/claim', 'retries/claim', 'req/claim', 'RCU/claim', 'p50 ms', 'p99 ms', '503', 'statuses', 'ledger'],
      runs.map((r) => [
        String(r.concurrency), String(r.nodes), String(r.latencyMs), String(r.measured.ops), fmt(r.goodput), fmt(r.conflictsPerClaim, 2), fmt(r.retriesPerClaim, 2),
        fmt(r.measured.requests.perOp, 2), fmt(r.rcuPerClaim, 2),
        fmt(r.measured.p50Ms), fmt(r.measured.p99Ms), String(r.unavailable), counts(r.measured.statuses),
        r.check.ok ? 'ok' : `FAIL: ${r.check.problems.slice(0, 2).join('; ')}`,
      ]),
      'rrrrrrrrrrrrll',
    ),
  );
  console.log(
    `A transaction holds the node item for half its latency: at ${latency} ms claims alone take at most ${fmt(2000 / latency, 0)}/s; ` +
      'combined, one transaction commits up to 32. Rows with 16 nodes spread 16 claimers over as many nodes: nothing ' +
      'conflicts, so their latencies are what this machine alone gives at that latency.',
  );
  for (const t of contentionTargets(runs)) console.log(targetLine(t));
}

// Driving a load and measuring it: latencies, statuses, CPU time of this process and of DynamoDB Local,
// and the DynamoDB requests counted meanwhile.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { showProgress as showProgressLine, type Progress } from '../progress';
import { sleep } from './baseline';
import { bump, counter, type Counts } from './counting';


/** Put before every progress label (the warm-up names itself). */
let phase = '';

/** Names the phase (the warm-up) in every progress label until it is set back to ''. */
export function setPhase(name: string): void {
  phase = name;
}
export let progress: Progress | undefined;

export function stopProgress(): void {
  progress?.end();
  progress = undefined;
}

export function showProgress(label: string, total: number, done: () => number): void {
  progress = showProgressLine(`${phase}${label}`, total, done);
}

/** One operation; answers its HTTP status, or a status with a note (such as `200 ignored`) to count apart. */
export type Op = (i: number) => Promise<number | string>;

/** Operations that arrive in bursts of `size`, a pause of `pauseMs` after each burst has been answered. */
export interface Bursts {
  size: number;
  pauseMs: number;
}

/**
 * Runs op(0..total-1) with `concurrency` workers, in bursts if given; answers the wall time (of the
 * bursts alone, pauses left out), each latency and the statuses.
 */
export async function drive(label: string, total: number, concurrency: number, op: Op, bursts?: Bursts) {
  const latencies: number[] = [];
  const statuses: Counts = {};
  const size = bursts?.size ?? total;
  let [next, seconds] = [0, 0];
  showProgress(label, total, () => latencies.length);
  try {
    for (let from = 0; from < total; from += size) {
      if (from > 0) await sleep(bursts?.pauseMs ?? 0);
      const end = Math.min(total, from + size);
      const worker = async () => {
        while (next < end) {
          const i = next++;
          const t0 = performance.now();
          const status = await op(i);
          latencies.push(performance.now() - t0);
          bump(statuses, String(status));
        }
      };
      const start = performance.now();
      await Promise.all(Array.from({ length: Math.min(concurrency, end - from) }, worker));
      seconds += (performance.now() - start) / 1000;
    }
  } finally {
    stopProgress();
  }
  return { seconds, latencies, statuses };
}

export interface Measured {
  scenario: string;
  run: number;
  table: string;
  ops: number;
  concurrency: number;
  seconds: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of this (Node) process per operation: handler, SDK and event loop, without DynamoDB Local. */
  nodeCpuMsPerOp: number;
  /** CPU time of the DynamoDB Local process per operation (Linux only, else null). */
  dbCpuMsPerOp: number | null;
  statuses: Counts;
  /** `cancelled`: the cancelled transactions by the items that failed (see cancelledItems). */
  requests: { total: number; perOp: number; perOpByCommand: Counts; failures: Counts; cancelled: Counts };
}

export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
export const round = (n: number, digits = 2) => Number(n.toFixed(digits));

export async function measure(
  scenario: string, run: number, table: string, total: number, concurrency: number, op: Op, bursts?: Bursts,
): Promise<Measured> {
  counter.take();
  const cpu = process.cpuUsage();
  const dbCpu = dbCpuMs();
  const { seconds, latencies, statuses } = await drive(`${scenario} #${run}`, total, concurrency, op, bursts);
  const { user, system } = process.cpuUsage(cpu);
  const dbCpuAfter = dbCpuMs();
  const { byCommand, failures, cancelled } = counter.take();
  const sorted = latencies.sort((a, b) => a - b);
  const requests = Object.values(byCommand).reduce((a, b) => a + b, 0);
  const perOpByCommand: Counts = {};
  for (const [command, n] of Object.entries(byCommand)) perOpByCommand[command] = round(n / total, 3);
  return {
    scenario, run, table, ops: total, concurrency, seconds: round(seconds, 3), opsPerSecond: round(total / seconds, 1),
    p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)),
    nodeCpuMsPerOp: round((user + system) / 1000 / total, 3),
    dbCpuMsPerOp: dbCpu === null || dbCpuAfter === null ? null : round((dbCpuAfter - dbCpu) / total, 3), statuses,
    requests: { total: requests, perOp: round(requests / total, 3), perOpByCommand, failures, cancelled },
  };
}

let dbPid = 0;

/** The DynamoDB Local process whose CPU time `measure` reads. */
export function measureDynamoDbLocal(pid: number): void {
  dbPid = pid;
}

/** CPU time DynamoDB Local has used so far, in ms, from /proc (clock ticks are 1/100 s there); null off Linux. */
function dbCpuMs(): number | null {
  try {
    const fields = readFileSync(`/proc/${dbPid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const [utime, stime] = [Number(fields[11]), Number(fields[12])];
    return Number.isFinite(utime + stime) ? (utime + stime) * 10 : null;
  } catch {
    return null;
  }
}


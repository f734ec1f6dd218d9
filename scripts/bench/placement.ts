// Placement's figures (docs/placement.md): candidates latency on a warm fleet view, the cost of reading the view
// (and so of keeping it fresh), placements/s at concurrency 32, and the DynamoDB requests and read units per
// placement uncontended, at 1,000 and 10,000 nodes, on an in-memory DynamoDB Local. Part of `npm run bench`
// (run.ts); alone: npx tsx scripts/bench/placement.ts [nodes ...]. BENCH_SMOKE=1: small sizes.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { withDynamoDbLocal } from '../../local/with-dynamodb-local';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_REGION ??= 'us-east-1';

const SMOKE = process.env.BENCH_SMOKE === '1';
/** The targets of issue 16: candidates p99 and requests per uncontended placement. */
const TARGET = { candidatesP99Ms: 50, requestsPerPlacement: 2 };
const FLEET_VIEW_TTL_MS = 2000; // lib/store/fleet.ts's default: how often a busy container reads the view
const NODE = { vcpus: 64, memoryMb: 262_144, localGb: 4_000, traits: ['HW_CPU_X86_AVX2'], aggregates: ['az1'] };
const FLAVOR = { vcpus: 2, memoryMb: 4096, rootGb: 40 };

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const ms = (x: number) => Math.round(x * 10) / 10;

async function pool<T>(n: number, concurrency: number, op: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await op(i);
      }
    }),
  );
  return out;
}

async function fleetRun(endpoint: string, nodes: number): Promise<Record<string, unknown>> {
  const { resetRuntime, runtime } = await import('../../lib/api/runtime');
  const { createStore, ensureTable, putNode } = await import('../../lib/store');
  const { invoke } = await import('../../local/server');
  const { RequestCounter } = await import('./counting');
  const { ReadUnitMeter } = await import('./read-units');
  const tableName = `bench-place-${nodes}-${randomUUID().slice(0, 8)}`;
  Object.assign(process.env, { TABLE_NAME: tableName, DYNAMODB_ENDPOINT: endpoint, FLEET_VIEW_TTL_MS: '600000' });
  resetRuntime();
  const seed = createStore({ tableName, endpoint });
  await ensureTable(seed);
  const { traits, aggregates, ...inventory } = NODE;
  const full = { ...inventory, cpuAllocationRatio: 1, ramAllocationRatio: 1, diskAllocationRatio: 1, reservedHostMemoryMb: 0, reservedHostDiskMb: 0, reservedHostCpus: 0 };
  await pool(nodes, 32, (i) => putNode(seed, `n${String(i).padStart(6, '0')}`, full, [], { labels: { traits, aggregates } }));
  const counter = new RequestCounter();
  counter.attach(runtime().store.client);
  const meter = new ReadUnitMeter();
  meter.attach(runtime().store.client);
  const call = async (method: string, url: string, body?: unknown) => {
    const r = await invoke({ method, url, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)) });
    return r.statusCode ?? 0;
  };
  const query = '/candidates?vcpus=2&memoryMb=4096&diskGb=40&required=HW_CPU_X86_AVX2&memberOf=az1&limit=50';
  let t = performance.now();
  await call('GET', query);
  const viewRead = { ms: ms(performance.now() - t), requests: counter.take().byCommand, readUnits: meter.take() };
  const lat: number[] = [];
  for (let i = 0; i < (SMOKE ? 20 : 200); i++) {
    t = performance.now();
    if ((await call('GET', query)) !== 200) throw new Error('candidates failed');
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  const candidatesRequests = counter.take().byCommand;
  meter.take();
  const alone = SMOKE ? 5 : 40;
  const place = () => call('POST', '/placements', { instanceUuid: randomUUID(), flavor: FLAVOR, memberOf: ['az1'] });
  await pool(alone, 1, place);
  const uncontended = {
    requests: perEach(counter.take().byCommand, alone),
    readUnitsEstimated: Math.round((meter.take() / alone) * 100) / 100,
  };
  const placements = SMOKE ? 40 : 400;
  t = performance.now();
  const statuses = await pool(placements, 32, place);
  const seconds = (performance.now() - t) / 1000;
  const placed = statuses.filter((s) => s === 201).length;
  const contended = { requests: perEach(counter.take().byCommand, placements), readUnitsEstimated: meter.take() / placements };
  const p99 = ms(pct(lat, 99));
  const requestsAlone = Object.values(uncontended.requests).reduce((a, b) => a + b, 0);
  return {
    nodes,
    viewRead,
    freshness: {
      readsPerRefresh: Object.values(viewRead.requests).reduce((a, b) => a + b, 0),
      readUnitsPerRefresh: viewRead.readUnits,
      readUnitsPerSecondPerBusyContainer: round2(viewRead.readUnits / (FLEET_VIEW_TTL_MS / 1000)),
    },
    candidates: { p50ms: ms(pct(lat, 50)), p99ms: p99, requestsPerQuery: candidatesRequests, target: met(p99 <= TARGET.candidatesP99Ms, `p99 <= ${TARGET.candidatesP99Ms} ms`) },
    placements: { total: placements, placed, perSecondAt32: Math.round(placed / seconds), contended: { requests: contended.requests, readUnitsEstimated: round2(contended.readUnitsEstimated) } },
    uncontendedPlacement: { ...uncontended, target: met(requestsAlone <= TARGET.requestsPerPlacement, `<= ${TARGET.requestsPerPlacement} requests`) },
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const met = (ok: boolean, what: string) => `${what}: ${ok ? 'met' : 'NOT MET'}`;
const perEach = (counts: Record<string, number>, n: number) =>
  Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, round2(v / n)]));

/** The placement figures at each size, printed as they come; what `npm run bench` adds to its report. */
export async function placementBench(endpoint: string, sizes = SMOKE ? [50, 200] : [1000, 10_000]) {
  console.log('\nPlacement (rules G2-G5): candidates on a warm view, the view read, placements; read units estimated from item sizes');
  const out: Record<string, unknown>[] = [];
  for (const n of sizes) {
    const figures = await fleetRun(endpoint, n);
    console.log(JSON.stringify(figures));
    out.push(figures);
  }
  return out;
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  await withDynamoDbLocal('bench-placement', async (db) => {
    await placementBench(db.endpoint, sizes.length ? sizes : undefined);
  });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

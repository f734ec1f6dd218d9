// Placement's figures (docs/placement.md): candidates latency on a warm fleet view, the cost of reading the view,
// and placements/s at concurrency 32 with the DynamoDB requests per placement, at 1,000 and 10,000 nodes, on an
// in-memory DynamoDB Local. Run: npx tsx scripts/bench/placement.ts [nodes ...]
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { withDynamoDbLocal } from '../../local/with-dynamodb-local';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_REGION ??= 'us-east-1';

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
  const call = async (method: string, url: string, body?: unknown) => {
    const r = await invoke({ method, url, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)) });
    return r.statusCode ?? 0;
  };
  const query = '/candidates?vcpus=2&memoryMb=4096&diskGb=40&required=HW_CPU_X86_AVX2&memberOf=az1&limit=50';
  let t = performance.now();
  await call('GET', query);
  const viewRead = { ms: ms(performance.now() - t), requests: counter.take().byCommand };
  const lat: number[] = [];
  for (let i = 0; i < 200; i++) {
    t = performance.now();
    if ((await call('GET', query)) !== 200) throw new Error('candidates failed');
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  const candidatesRequests = counter.take().byCommand;
  const placements = 400;
  t = performance.now();
  const statuses = await pool(placements, 32, () => call('POST', '/placements', { instanceUuid: randomUUID(), flavor: FLAVOR, memberOf: ['az1'] }));
  const seconds = (performance.now() - t) / 1000;
  const placed = statuses.filter((s) => s === 201).length;
  const requests = counter.take().byCommand;
  const perPlacement = Object.fromEntries(Object.entries(requests).map(([k, v]) => [k, Math.round((v / placements) * 100) / 100]));
  return {
    nodes,
    viewRead,
    candidates: { p50ms: ms(pct(lat, 50)), p99ms: ms(pct(lat, 99)), requestsPer200: candidatesRequests },
    placements: { total: placements, placed, perSecond: Math.round(placed / seconds), requestsPerPlacement: perPlacement },
  };
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  await withDynamoDbLocal('bench-placement', async (db) => {
    for (const n of sizes.length ? sizes : [1000, 10_000]) console.log(JSON.stringify(await fleetRun(db.endpoint, n)));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

// Placement's figures (docs/placement.md): the fleet view read whole (every node item) and from the fleet summary
// (rule G12), the summary's seeding, how fast and at what cost the stream feed keeps it current, candidates latency
// on a warm view, placements/s at concurrency 32, and the DynamoDB requests and read units per placement
// uncontended, at 1,000 and 10,000 nodes, on an in-memory DynamoDB Local. Part of `npm run bench` (run.ts); alone:
// npx tsx scripts/bench/placement-main.ts [nodes ...]. BENCH_SMOKE=1: small sizes.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Store } from '../../lib/store';
import { RequestCounter } from './counting';
import { ReadUnitMeter } from './read-units';

const SMOKE = process.env.BENCH_SMOKE === '1';
/** The targets of issue 16: candidates p99 and requests per uncontended placement. */
const TARGET = { candidatesP99Ms: 50, requestsPerPlacement: 2 };
const FLEET_VIEW_TTL_MS = 2000; // lib/store/fleet.ts's default: how often a busy container reads the view
const NODE = { vcpus: 64, memoryMb: 262_144, localGb: 4_000, traits: ['HW_CPU_X86_AVX2'], aggregates: ['az1'] };
const FLAVOR = { vcpus: 2, memoryMb: 4096, rootGb: 40 };
/** How often the local feed reads the stream; in AWS the event source's batching window (1 s) sets the lag. */
const FEED_POLL_MS = 250;
const QUERY = '/candidates?vcpus=2&memoryMb=4096&diskGb=40&required=HW_CPU_X86_AVX2&memberOf=az1&limit=50';

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const ms = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
const met = (ok: boolean, what: string) => `${what}: ${ok ? 'met' : 'NOT MET'}`;
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
const perEach = (counts: Record<string, number>, n: number) =>
  Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, round2(v / n)]));

async function pool<T>(n: number, concurrency: number, op: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await op(i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

/** The handlers in-process, as the local runner serves them, with their store's requests and units metered. */
async function service() {
  const { resetRuntime, runtime } = await import('../../lib/api/runtime');
  const { invoke } = await import('../../local/server');
  resetRuntime(); // a fresh store, so a fresh fleet view
  const counter = new RequestCounter();
  // Read units from the sizes of the items answered (no extra request, so timings stay true).
  const meter = new ReadUnitMeter();
  counter.attach(runtime().store.client);
  meter.attach(runtime().store.client);
  const call = async (method: string, url: string, body?: unknown) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const r = await invoke({ method, url, headers: { 'content-type': 'application/json' }, body: payload });
    if ((r.statusCode ?? 0) >= 400 && process.env.BENCH_DEBUG) console.error(method, url, r.statusCode, r.body);
    return r.statusCode ?? 0;
  };
  return { call, counter, meter };
}
type Service = Awaited<ReturnType<typeof service>>;

/** One cold read of the fleet view by a fresh container: time, requests, read units. */
async function viewRead() {
  const s = await service();
  const t = performance.now();
  if ((await s.call('GET', QUERY)) !== 200) throw new Error('candidates failed');
  const out = { ms: ms(performance.now() - t), requests: s.counter.take().byCommand, readUnits: s.meter.take() };
  return { service: s, figures: { ...out, readUnitsPerSecondPerBusyContainer: round2(out.readUnits / (FLEET_VIEW_TTL_MS / 1000)) } };
}

async function candidatesLatency(s: Service) {
  const lat: number[] = [];
  for (let i = 0; i < (SMOKE ? 20 : 200); i++) {
    const t = performance.now();
    if ((await s.call('GET', QUERY)) !== 200) throw new Error('candidates failed');
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  const p99 = ms(pct(lat, 99));
  const requests = s.counter.take().byCommand;
  s.meter.take();
  return { p50ms: ms(pct(lat, 50)), p99ms: p99, requestsPerQuery: requests, target: met(p99 <= TARGET.candidatesP99Ms, `p99 <= ${TARGET.candidatesP99Ms} ms`) };
}

async function placements(s: Service) {
  const place = () => s.call('POST', '/placements', { instanceUuid: randomUUID(), flavor: FLAVOR, memberOf: ['az1'] });
  const alone = SMOKE ? 5 : 40;
  await pool(alone, 1, place);
  const requests = perEach(s.counter.take().byCommand, alone);
  const uncontended = { requests, readUnits: round2(s.meter.take() / alone) };
  const n = SMOKE ? 40 : 400;
  const t = performance.now();
  const statuses = await pool(n, 32, place);
  const seconds = (performance.now() - t) / 1000;
  const placed = statuses.filter((x) => x === 201).length;
  const contended = { requests: perEach(s.counter.take().byCommand, n), readUnits: round2(s.meter.take() / n) };
  const target = met(total(requests) <= TARGET.requestsPerPlacement, `<= ${TARGET.requestsPerPlacement} requests`);
  return { uncontendedPlacement: { ...uncontended, target }, placements: { total: n, placed, perSecondAt32: Math.round(placed / seconds), contended } };
}

/**
 * The feed's cost and lag: `changes` claims one after another while the local feed (the stand-in for the stream's
 * consumer) follows the stream; each claim's lag is the time until its node's entry holds the claim's generation.
 */
async function feedFigures(seed: Store, endpoint: string, changes: number) {
  const { entryKey, listNodes } = await import('../../lib/store');
  const { nodeKey } = await import('../../lib/store/items');
  const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
  const { marshall } = await import('@aws-sdk/util-dynamodb');
  const { itemSize, writeUnits } = await import('../../test/support/item-size');
  const { startFleetFeed } = await import('../../local/fleet-feed');
  const feed = await startFleetFeed(seed, endpoint, FEED_POLL_MS);
  const s = await service();
  const get = async (Key: Record<string, string>) => (await seed.doc.send(new GetCommand({ TableName: seed.tableName, Key }))).Item;
  // Nodes the placements before left empty: every claim here fits.
  const empty = (await listNodes(seed)).filter((n) => n.used.vcpus === 0);
  const nodes = empty.slice(0, changes).map((n) => n.nodeId);
  const lags: number[] = [];
  try {
    for (const nodeId of nodes) {
      const claim = { instanceUuid: randomUUID(), flavor: FLAVOR };
      const status = await s.call('POST', `/nodes/${nodeId}/instances`, claim);
      if (status !== 201) throw new Error(`claim failed: ${status}`);
      const at = performance.now();
      const want = Number((await get(nodeKey(nodeId)))?.generation);
      while (Number((await get(entryKey(nodeId)))?.g) < want) await new Promise((r) => setTimeout(r, 5));
      lags.push(performance.now() - at);
    }
  } finally {
    await feed.stop();
  }
  lags.sort((a, b) => a - b);
  // A change is one PutItem of the node's entry: its units follow from the entry's size (rules CU1, CU2).
  const entryBytes = itemSize(marshall((await get(entryKey(nodes[0]!)))!));
  const lag = { p50ms: ms(pct(lags, 50)), p99ms: ms(pct(lags, 99)), pollMs: FEED_POLL_MS };
  return { changes, lag, entryBytes, writeUnitsPerChange: writeUnits(entryBytes, false), requestsPerChange: 1 };
}

async function fleetRun(endpoint: string, nodes: number): Promise<Record<string, unknown>> {
  const { createStore, ensureTable, putNode, rebuildSummary } = await import('../../lib/store');
  const tableName = `bench-place-${nodes}-${randomUUID().slice(0, 8)}`;
  Object.assign(process.env, { TABLE_NAME: tableName, DYNAMODB_ENDPOINT: endpoint, FLEET_VIEW_TTL_MS: '600000' });
  const seed = createStore({ tableName, endpoint });
  await ensureTable(seed);
  const { traits, aggregates, ...inventory } = NODE;
  const ratios = { cpuAllocationRatio: 1, ramAllocationRatio: 1, diskAllocationRatio: 1 };
  const full = { ...inventory, ...ratios, reservedHostMemoryMb: 0, reservedHostDiskMb: 0, reservedHostCpus: 0 };
  const labels = { labels: { traits, aggregates } };
  await pool(nodes, 32, (i) => putNode(seed, `n${String(i).padStart(6, '0')}`, full, [], labels));
  const wholeRead = (await viewRead()).figures;
  const meter = new ReadUnitMeter();
  meter.attach(seed.client);
  let t = performance.now();
  // Every write is one PutItem of an entry under 1 KB: one write unit (feed.entryBytes below).
  const seeded = await rebuildSummary(seed);
  const seeding = { ms: Math.round(performance.now() - t), writes: seeded, readUnits: meter.take() };
  t = performance.now();
  const again = await rebuildSummary(seed);
  const repair = { ms: Math.round(performance.now() - t), writes: again, readUnits: meter.take() };
  const summary = await viewRead();
  const candidates = await candidatesLatency(summary.service);
  const placed = await placements(summary.service);
  const feed = await feedFigures(seed, endpoint, SMOKE ? 10 : 50);
  return {
    nodes,
    view: { everyNode: wholeRead, summary: summary.figures },
    summary: { seeding, repairNothingToMend: repair, feed },
    candidates,
    ...placed,
  };
}

/** The placement figures at each size, printed as they come; what `npm run bench` adds to its report. */
export async function placementBench(endpoint: string, sizes = SMOKE ? [50, 200] : [1000, 10_000]) {
  console.log('\nPlacement (rules G2-G5, G12): the view read whole and from the summary, the summary feed, candidates, placements');
  const out: Record<string, unknown>[] = [];
  for (const n of sizes) {
    const figures = await fleetRun(endpoint, n);
    console.log(JSON.stringify(figures));
    out.push(figures);
  }
  return out;
}

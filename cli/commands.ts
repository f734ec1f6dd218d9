// What each command asks the API and how it shows the answer.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ApiClient } from '../lib/client/api-client';
import { parseFlavor, positionals, required, UsageError, type Args } from './args';
import { nodesTable, nodeText, usageLine, type InstanceRecord, type NodeView } from './node-text';
import { extraSpecsOf, fittedText, guestTopologyOf } from './numa-text';
import { fmt, type Style } from './render';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
  style: Style;
}

export interface Context {
  args: Args;
  api: ApiClient;
  io: Io;
}

/** An answer of 4xx or 5xx: the service's own code and message. */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const b = (body ?? {}) as { error?: string; message?: string; issues?: Array<{ path: string; message: string }> };
    const head =
      b.error && b.message
        ? `${b.error}: ${b.message}`
        : `HTTP ${status}${typeof body === 'string' ? `: ${body}` : ''}`;
    const issues = (b.issues ?? [])
      .filter((i) => !head.includes(i.message))
      .map((i) => `\n  ${i.path || '(body)'}: ${i.message}`);
    super(head + issues.join(''));
  }
}

// Parsed JSON of a known route; the commands read the fields they show.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = any;

export async function call(
  ctx: Context,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<{ status: number; body: Body }> {
  const res = await ctx.api.request(method, path, body, headers);
  if (res.status >= 400) throw new ServiceError(res.status, res.body);
  return { status: res.status, body: res.body };
}

export const seg = encodeURIComponent;

/** The lines that are there, one per line. */
const lines = (...parts: Array<string | undefined>) => parts.filter((line) => line !== undefined).join('\n');

/** With --json, the answer as the API gave it; otherwise the text. */
export function show(ctx: Context, body: unknown, text: () => string): void {
  if (ctx.args.flags.has('json')) ctx.io.out(JSON.stringify(body ?? null, null, 2));
  else ctx.io.out(text());
}

async function readJsonFile(ctx: Context, file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === '-' ? await ctx.io.readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file} is not JSON: ${(error as Error).message}`);
  }
}

async function nodes(ctx: Context, words: string[]) {
  positionals(words, [], 'nodes [--json]');
  const all = await everyNode(ctx);
  show(ctx, { nodes: all }, () => nodesTable(all, ctx.io.style));
}

/** GET /nodes answers a page at a time: every page, in nodeId order. */
async function everyNode(ctx: Context): Promise<NodeView[]> {
  const all: NodeView[] = [];
  let next: string | undefined;
  do {
    const { body } = await call(ctx, 'GET', next ? `/nodes?next=${seg(next)}` : '/nodes');
    all.push(...(body.nodes as NodeView[]));
    next = body.next as string | undefined;
  } while (next);
  return all;
}

async function node(ctx: Context, words: string[]) {
  const [action, ...rest] = words;
  if (action === 'show') {
    const [id = ''] = positionals(rest, ['NODE'], 'node show NODE [--json]');
    if (ctx.args.flags.has('json')) return show(ctx, (await call(ctx, 'GET', `/nodes/${seg(id)}`)).body, () => '');
    const [n, list] = await Promise.all([
      call(ctx, 'GET', `/nodes/${seg(id)}`),
      call(ctx, 'GET', `/nodes/${seg(id)}/instances`),
    ]);
    return ctx.io.out(nodeText(n.body as NodeView, list.body.instances as InstanceRecord[], ctx.io.style));
  }
  if (action === 'put') {
    const [id = ''] = positionals(rest, ['NODE'], 'node put NODE --file INVENTORY.json');
    const inventory = await readJsonFile(ctx, required(ctx.args, 'file', 'INVENTORY.json (or - for stdin)'));
    const { status, body } = await call(ctx, 'PUT', `/nodes/${seg(id)}`, inventory);
    return show(
      ctx,
      body,
      () => `${status === 201 ? 'Registered' : 'Replaced the inventory of'} ${id}.\n${usageLine(body)}`,
    );
  }
  if (action === 'delete') {
    const [id = ''] = positionals(rest, ['NODE'], 'node delete NODE');
    await call(ctx, 'DELETE', `/nodes/${seg(id)}`);
    return show(ctx, {}, () => `Deleted ${id}.`);
  }
  throw new UsageError('usage: capacity-tracker node show|put|delete NODE');
}

async function claim(ctx: Context, words: string[]) {
  const [nodeId = ''] = positionals(words, ['NODE'], 'claim NODE --flavor VCPUS:MB:GB [--uuid UUID]');
  const { args } = ctx;
  const chosen = args.options.has('uuid') ? undefined : randomUUID();
  const flavor = parseFlavor(required(args, 'flavor', 'VCPUS:MEMORY_MB:ROOT_GB, e.g. 2:2048:20'));
  const numa = await numaRequest(ctx);
  const request: Record<string, unknown> = {
    instanceUuid: args.options.get('uuid') ?? chosen,
    flavor: numa.extraSpecs ? { ...flavor, extraSpecs: numa.extraSpecs } : flavor,
    ...(numa.numaTopology ? { numaTopology: numa.numaTopology } : {}),
  };
  if (args.flags.has('volume-backed')) request.volumeBacked = true;
  if (args.options.has('project')) request.projectId = args.options.get('project');
  if (args.options.has('os-type')) request.osType = args.options.get('os-type');
  if (args.options.has('state')) request.vmState = args.options.get('state');
  const headers = args.flags.has('minimal') ? { prefer: 'return=minimal' } : undefined;
  const { status, body } = await call(ctx, 'POST', `/nodes/${seg(nodeId)}/instances`, request, headers).catch(
    (error: unknown) => {
      // A UUID chosen here is the only handle on a claim whose answer never came: say it, so it can be retried.
      if (chosen) ctx.io.err(`The claim used instance UUID ${chosen}: retry it with --uuid ${chosen}.`);
      throw error;
    },
  );
  show(ctx, body, () => {
    const what =
      `${fmt(body.vcpus)} vCPU, ${fmt(body.memoryMb)} MB, ${fmt(body.diskGb)} GB` +
      (body.pciDevices.length ? `, PCI ${body.pciDevices.join(', ')}` : '');
    const head =
      status === 201
        ? `Claimed ${body.instanceUuid} on ${nodeId}: ${what}.`
        : `Already claimed (a retry): ${body.instanceUuid} on ${nodeId}: ${what}.`;
    return lines(head, fittedText(body.numaTopology), body.node ? usageLine(body.node) : undefined);
  });
}

/** A claim's NUMA request: the guest topology of --numa FILE, or --hw KEY=VALUE as the flavor's extra specs. */
async function numaRequest(ctx: Context): Promise<{ numaTopology?: object; extraSpecs?: Record<string, string> }> {
  const file = ctx.args.options.get('numa');
  const hw = ctx.args.lists.get('hw') ?? [];
  if (file !== undefined && hw.length > 0)
    throw new UsageError('give the NUMA request either as --numa FILE or as --hw KEY=VALUE, not both');
  if (file !== undefined) return { numaTopology: guestTopologyOf(file, await readJsonFile(ctx, file)) };
  return hw.length > 0 ? { extraSpecs: extraSpecsOf(hw) } : {};
}

async function release(ctx: Context, words: string[]) {
  const [nodeId = '', uuid = ''] = positionals(words, ['NODE', 'UUID'], 'release NODE UUID');
  await call(ctx, 'DELETE', `/nodes/${seg(nodeId)}/instances/${seg(uuid)}`);
  show(ctx, {}, () => `Released ${uuid} on ${nodeId} (nothing to release is fine too).`);
}

function migrationLine(m: Body): string {
  return `Migration ${m.migrationId} (${m.moveType}) of ${m.instanceUuid} from ${m.sourceNodeId} to ${m.destNodeId}: ${m.status}, sequence ${m.sequence}.`;
}

async function migrate(ctx: Context, words: string[]) {
  const usage =
    'migrate NODE --instance UUID --from SOURCE_NODE [--type resize|migration|evacuation|live-migration] [--flavor VCPUS:MB:GB] [--id MIGRATION] [--numa FILE | --hw KEY=VALUE ...]';
  const [nodeId = ''] = positionals(words, ['NODE'], usage);
  const { args } = ctx;
  const flavor = args.options.get('flavor');
  if (flavor && args.options.get('type') === 'live-migration')
    throw new UsageError("a live migration keeps the instance's flavor: leave out --flavor");
  const numa = await numaRequest(ctx);
  if (numa.extraSpecs && !flavor) throw new UsageError("--hw gives the new flavor's extra specs: give --flavor too");
  const request = {
    migrationId: args.options.get('id') ?? `m-${randomUUID()}`,
    instanceUuid: required(args, 'instance', 'UUID'),
    sourceNodeId: required(args, 'from', 'SOURCE_NODE'),
    moveType: args.options.get('type') ?? (flavor ? 'resize' : 'migration'),
    ...(flavor
      ? { newFlavor: { ...parseFlavor(flavor), ...(numa.extraSpecs ? { extraSpecs: numa.extraSpecs } : {}) } }
      : {}),
    ...(numa.numaTopology ? { numaTopology: numa.numaTopology } : {}),
  };
  const { status, body } = await call(ctx, 'POST', `/nodes/${seg(nodeId)}/move-claims`, request);
  show(ctx, body, () => {
    const c = body.claim;
    const head = status === 201 ? 'Claimed' : 'Already claimed (a retry):';
    const claimed = `${head} ${fmt(c.vcpus)} vCPU, ${fmt(c.memoryMb)} MB, ${fmt(c.diskGb)} GB on ${nodeId}.`;
    return lines(
      claimed,
      migrationLine(body.migration),
      fittedText(c.numaTopology),
      c.node ? usageLine(c.node) : undefined,
    );
  });
}

async function status(ctx: Context, words: string[]) {
  const [migrationId = '', next = ''] = positionals(
    words,
    ['MIGRATION', 'STATUS'],
    'status MIGRATION STATUS [--sequence N]',
  );
  const sequence = ctx.args.options.get('sequence');
  if (sequence !== undefined && !/^\d+$/.test(sequence)) throw new UsageError('--sequence takes a whole number');
  const { body } = await call(ctx, 'POST', `/migrations/${seg(migrationId)}/status`, {
    status: next,
    ...(sequence !== undefined ? { sequence: Number(sequence) } : {}),
  });
  show(
    ctx,
    body,
    () =>
      `${migrationLine(body)}${body.applied ? '' : `\nNot applied: ${next} is stale, repeated or out of order; nothing changed.`}`,
  );
}

async function migration(ctx: Context, words: string[]) {
  const [migrationId = ''] = positionals(words, ['MIGRATION'], 'migration MIGRATION');
  const { body } = await call(ctx, 'GET', `/migrations/${seg(migrationId)}`);
  show(ctx, body, () => migrationLine(body));
}

async function audit(ctx: Context, words: string[]) {
  const [nodeId = ''] = positionals(words, ['NODE'], 'audit NODE [--file BODY.json]');
  const file = ctx.args.options.get('file');
  const request = file === undefined ? {} : await readJsonFile(ctx, file);
  const { body } = await call(ctx, 'POST', `/nodes/${seg(nodeId)}/audit`, request);
  show(ctx, body, () => {
    const d = body.drift;
    const drift =
      d.memoryMbUsed === 0 && d.localGbUsed === 0 && d.vcpusUsed === 0
        ? 'no drift'
        : `drift memory ${signed(d.memoryMbUsed)} MB, disk ${signed(d.localGbUsed)} GB, vCPU ${signed(d.vcpusUsed)} (repaired)`;
    const lists = [
      body.unknownInstances.length ? `running but not tracked: ${body.unknownInstances.join(', ')}` : '',
      body.missingInstances.length ? `tracked but not running: ${body.missingInstances.join(', ')}` : '',
      body.releasedHolds?.length
        ? `released stale holds of ${body.releasedHolds.map((h: Body) => `${h.migrationId} (${h.role})`).join(', ')}`
        : '',
    ].filter(Boolean);
    return [`Audited ${nodeId}: ${drift}.`, ...lists, usageLine(body.node)].join('\n');
  });
}

const signed = (n: number) => (n > 0 ? `+${fmt(n)}` : fmt(n));

export const COMMANDS: Record<string, (ctx: Context, words: string[]) => Promise<void>> = {
  nodes,
  node,
  claim,
  release,
  migrate,
  status,
  migration,
  audit,
};

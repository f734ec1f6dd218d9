// The commands of placement and server groups (docs/placement.md): candidates, place, group.
import { randomUUID } from 'node:crypto';
import { parseFlavor, positionals, required, UsageError } from './args';
import { call, seg, show, type Context } from './commands';
import { fmt } from './render';

const list = (ctx: Context, name: string) => {
  const value = ctx.args.options.get(name);
  return value === undefined || value === '' ? [] : value.split(',');
};

/** The filters and the strategy, as a body's fields. */
function filters(ctx: Context): Record<string, unknown> {
  const strategy = ctx.args.options.get('strategy');
  const group = ctx.args.options.get('group');
  return {
    required: list(ctx, 'required'),
    forbidden: list(ctx, 'forbidden'),
    memberOf: list(ctx, 'member-of'),
    ...(strategy ? { strategy } : {}),
    ...(group ? { serverGroup: group } : {}),
  };
}

const flavorOf = (ctx: Context) => parseFlavor(required(ctx.args, 'flavor', 'VCPUS:MEMORY_MB:ROOT_GB, e.g. 2:2048:20'));

async function candidates(ctx: Context, words: string[]) {
  positionals(words, [], 'candidates --flavor VCPUS:MB:GB [--required T1,T2] [--forbidden T] [--member-of A]');
  const limit = ctx.args.options.get('limit');
  if (limit !== undefined && !/^\d+$/.test(limit)) throw new UsageError('--limit takes a whole number');
  const body = { flavor: flavorOf(ctx), ...filters(ctx), ...(limit ? { limit: Number(limit) } : {}) };
  const { body: answer } = await call(ctx, 'POST', '/candidates', body);
  show(ctx, answer, () => {
    const rows = (answer.candidates as Record<string, number | string>[]).map(
      (c) =>
        `${String(c.nodeId).padEnd(24)} ${fmt(Number(c.vcpusFree)).padStart(8)} ${fmt(Number(c.freeRamMb)).padStart(10)} ${fmt(Number(c.freeDiskGb)).padStart(9)} ${Number(c.weight).toFixed(3).padStart(7)}`,
    );
    const head = `${'NODE'.padEnd(24)} ${'VCPU'.padStart(8)} ${'FREE MB'.padStart(10)} ${'FREE GB'.padStart(9)} ${'WEIGHT'.padStart(7)}`;
    return rows.length ? [head, ...rows].join('\n') : 'No node fits.';
  });
}

async function place(ctx: Context, words: string[]) {
  positionals(words, [], 'place --flavor VCPUS:MB:GB [--uuid UUID] [--group G]');
  const chosen = ctx.args.options.has('uuid') ? undefined : randomUUID();
  const body = { instanceUuid: ctx.args.options.get('uuid') ?? chosen, flavor: flavorOf(ctx), ...filters(ctx) };
  const { status, body: answer } = await call(ctx, 'POST', '/placements', body).catch((error: unknown) => {
    // As with claim: the UUID chosen here is what a retry must send.
    if (chosen) ctx.io.err(`The placement used instance UUID ${chosen}: retry it with --uuid ${chosen}.`);
    throw error;
  });
  show(ctx, answer, () => {
    const c = answer.claim;
    const what = `${fmt(c.vcpus)} vCPU, ${fmt(c.memoryMb)} MB, ${fmt(c.diskGb)} GB`;
    const tries = answer.attempts === 1 ? '1 try' : `${answer.attempts} tries`;
    return status === 201
      ? `Placed ${c.instanceUuid} on ${answer.nodeId} (${tries}): ${what}.`
      : `Already placed (a retry): ${c.instanceUuid} on ${answer.nodeId}: ${what}.`;
  });
}

async function group(ctx: Context, words: string[]) {
  const [action, id = ''] = words;
  const path = `/server-groups/${seg(id)}`;
  if (action === 'put' && words.length === 2) {
    const max = ctx.args.options.get('max-per-host');
    if (max !== undefined && !/^\d+$/.test(max)) throw new UsageError('--max-per-host takes a whole number');
    const body = { policy: required(ctx.args, 'policy', 'affinity|anti-affinity|soft-affinity|soft-anti-affinity') };
    const { status, body: answer } = await call(
      ctx,
      'PUT',
      path,
      max ? { ...body, rules: { maxServerPerHost: Number(max) } } : body,
    );
    return show(ctx, answer, () => `${status === 201 ? 'Created' : 'Set'} server group ${id}: ${answer.policy}.`);
  }
  if (action === 'show' && words.length === 2) {
    const { body } = await call(ctx, 'GET', path);
    const members = (body.members as { instanceUuid: string; nodeId: string }[]).map(
      (m) => `  ${m.instanceUuid} on ${m.nodeId}`,
    );
    return show(ctx, body, () =>
      [`Server group ${id}: ${body.policy}, ${members.length} member(s)`, ...members].join('\n'),
    );
  }
  if (action === 'delete' && words.length === 2) {
    await call(ctx, 'DELETE', path);
    return show(ctx, {}, () => `Deleted server group ${id}.`);
  }
  throw new UsageError('usage: capacity-tracker group put|show|delete GROUP');
}

export const PLACEMENT_COMMANDS: Record<string, (ctx: Context, words: string[]) => Promise<void>> = {
  candidates,
  place,
  group,
};

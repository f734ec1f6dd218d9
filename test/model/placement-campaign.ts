// The placement campaign: seeded random fleets, then steps of concurrent placements (single, twin copies of one
// request, gangs), named claims, releases and replays, with and without server groups of every policy, through
// the real handlers on DynamoDB Local. Every answer is applied to the reference model (placement-model.ts) and
// judged soundly against what the step can have seen; after every step the service's state (each node's
// ledger, instance records, group host items and group members) must equal the model's and keep its invariants.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Store } from '../../lib/store';
import { api, type Reply } from '../support/api';
import { seeded } from '../support/chaos';
import { ledgerDiscrepancies, nodeLedgerOf } from '../support/ledger-check';
import {
  AGGREGATES,
  amountsOf,
  GROUPS,
  PlacementModel,
  StepBounds,
  TRAITS,
  type Filters,
  type Flavor,
} from './placement-model';

/** What the model proved wrong; anything else thrown is a defect of the campaign. */
export class PlacementViolation extends Error {}

export interface PlacementConfig {
  seed: number;
  label: string;
  fleets: number;
  steps: number;
  workers: number;
  /** Ends the campaign early (after a whole step) once spent. */
  timeLimitMs: number;
}

export type Outcomes = Record<string, number>;

const FLAVORS: Flavor[] = [
  { vcpus: 1, memoryMb: 256, rootGb: 1 },
  { vcpus: 2, memoryMb: 512, rootGb: 2 },
  { vcpus: 1, memoryMb: 1024, rootGb: 4 },
  { vcpus: 4, memoryMb: 256, rootGb: 1 },
];
/** Every node of a fleet is in this aggregate. */
const ALL = 'all';
const MAX_ATTEMPTS = 5; // rule G5: a placement refused after this many tries proves nothing about the rest.

interface Sent {
  body: Record<string, unknown>;
  /** The members' UUIDs and their nodes, once placed. */
  placed: { uuid: string; node: string }[];
}

type Rand = () => number;
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const chance = (rand: Rand, p: number) => rand() < p;
const uuidOf = (rand: Rand) =>
  'xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx'.replace(/x/g, () => Math.floor(rand() * 16).toString(16));

class Run {
  readonly model = new PlacementModel();
  /** Requests that placed something, by their first member, for replays. */
  private readonly sent = new Map<string, Sent>();
  private nodeIds: string[] = [];
  private bounds!: StepBounds;
  /** Soundness checks of the step's answers, run once every answer is in (the bounds need them all). */
  private judgements: (() => void)[] = [];
  readonly problems: string[] = [];

  constructor(
    private readonly store: Store,
    private readonly rand: Rand,
    private readonly prefix: string,
    private readonly outcomes: Outcomes,
  ) {}

  private count(what: string): void {
    this.outcomes[what] = (this.outcomes[what] ?? 0) + 1;
  }

  private wrong(what: string, reply?: Reply): void {
    this.problems.push(reply ? `${what}: ${reply.status} ${JSON.stringify(reply.body)}` : what);
  }

  /** A random fleet of 2 to 5 small nodes with random traits, aggregates and ratios; and the groups. */
  async setUp(): Promise<void> {
    const r = this.rand;
    const n = 2 + Math.floor(r() * 4);
    for (let i = 0; i < n; i++) {
      const id = `${this.prefix}-n${i}`;
      const inventory = {
        vcpus: pick(r, [2, 4, 6]),
        memoryMb: pick(r, [1024, 2048, 3072]),
        localGb: pick(r, [6, 10, 20]),
        cpuAllocationRatio: pick(r, [1, 2]),
        ramAllocationRatio: pick(r, [1, 1.5]),
        diskAllocationRatio: 1,
        reservedHostMemoryMb: pick(r, [0, 256]),
        reservedHostDiskMb: 0,
        reservedHostCpus: 0,
      };
      const traits = TRAITS.filter(() => chance(r, 0.5));
      const aggregates = [ALL, ...AGGREGATES.filter(() => chance(r, 0.5))];
      const reply = await api('PUT', `/nodes/${id}`, { ...inventory, traits, aggregates: aggregates.map(this.scoped) });
      if (reply.status !== 201) throw new Error(`node ${id}: ${reply.status}`);
      this.model.addNode({ id, inventory, traits, aggregates });
      this.nodeIds.push(id);
    }
    for (const g of GROUPS) {
      const rules = g.maxServerPerHost ? { maxServerPerHost: g.maxServerPerHost } : undefined;
      const reply = await api('PUT', `/server-groups/${this.scoped(g.id)}`, { policy: g.policy, rules });
      if (reply.status !== 201) throw new Error(`group ${g.id}: ${reply.status}`);
    }
  }

  /** The service's id of a model aggregate or group: each fleet has its own, so fleets sharing a table stay apart. */
  private readonly scoped = (id: string) => `${this.prefix}-${id}`;

  /** Random filters; every request is kept to this fleet by its aggregates. */
  private filters(): Filters {
    const r = this.rand;
    return {
      ...(chance(r, 0.2) ? { required: [pick(r, TRAITS)] } : {}),
      ...(chance(r, 0.1) ? { forbidden: [pick(r, TRAITS)] } : {}),
      memberOf: [chance(r, 0.25) ? pick(r, AGGREGATES) : ALL],
      ...(chance(r, 0.1) ? { candidates: this.nodeIds.filter(() => chance(r, 0.5)).concat(this.nodeIds[0]!) } : {}),
    };
  }

  private wire(f: Filters): Filters {
    return { ...f, memberOf: f.memberOf?.map(this.scoped) };
  }

  private groupChoice(): string | undefined {
    // Mostly the hard policies, so that small fleets fill their groups and refusals are tested.
    if (chance(this.rand, 0.25)) return undefined;
    return chance(this.rand, 0.7) ? pick(this.rand, ['aff', 'anti', 'anti2']) : pick(this.rand, GROUPS).id;
  }

  /** One step: every worker's operation at once, then the whole state compared. */
  async step(workers: number): Promise<void> {
    this.bounds = new StepBounds(this.model);
    const busy = new Set<string>();
    const ops = Array.from({ length: workers }, () => this.operation(busy));
    this.judgements = [];
    await Promise.all(ops.map((op) => op()));
    for (const judge of this.judgements) judge();
    this.problems.push(...this.model.invariants());
    await this.compare();
  }

  private operation(busy: Set<string>): () => Promise<void> {
    const r = this.rand();
    const live = [...this.model.live.keys()].filter((u) => !busy.has(u));
    if (r < 0.35 && live.length) {
      const uuid = pick(this.rand, live);
      busy.add(uuid);
      return () => this.release(uuid);
    }
    const replayable = [...this.sent].filter(([, s]) =>
      s.placed.every((p) => this.model.live.has(p.uuid) && !busy.has(p.uuid)),
    );
    if (r < 0.45 && replayable.length) {
      const [key, s] = pick(this.rand, replayable);
      for (const p of s.placed) busy.add(p.uuid);
      return () => this.replay(key, s);
    }
    const flavor = pick(this.rand, FLAVORS);
    const group = this.groupChoice();
    if (r < 0.55) return this.named(pick(this.rand, this.nodeIds), flavor, group);
    if (r < 0.66) return this.gang(group);
    const twin = chance(this.rand, 0.2);
    const strategy = pick(this.rand, ['spread', 'pack']);
    const filters = this.filters();
    const body = {
      instanceUuid: uuidOf(this.rand),
      flavor,
      ...this.wire(filters),
      strategy,
      ...this.groupField(group),
    };
    return () => this.place(body, filters, group, twin);
  }

  private groupField(group: string | undefined) {
    return group === undefined ? {} : { serverGroup: this.scoped(group) };
  }

  private afterStep(judge: () => void): void {
    this.judgements.push(judge);
  }

  private admit(uuid: string, node: string, flavor: Flavor, group: string | undefined): void {
    if (!this.model.nodes.has(node)) return this.wrong(`${uuid} admitted on ${node}, not a node of this fleet`);
    const live = { uuid, node, amounts: amountsOf(flavor), group };
    this.afterStep(() => {
      if (!this.bounds.couldFit(live.amounts, group, node))
        this.wrong(`${uuid} admitted on ${node}, where it cannot fit`);
    });
    this.model.admit(live);
    this.bounds.admit(live);
  }

  private async place(body: Record<string, unknown>, f: Filters, group: string | undefined, twin: boolean) {
    const uuid = body.instanceUuid as string;
    const replies = await Promise.all((twin ? [1, 2] : [1]).map(() => api('POST', '/placements', body)));
    // Twin copies may part: one that found no room in its view (a release in the same step freeing room after
    // it looked) answers NoValidHost, the other places it. The placement is then the instance's answer.
    const placedReplies = replies.filter((x) => x.status === 201 || x.status === 200);
    const first = (placedReplies[0] ?? replies[0]) as Reply;
    if (twin && placedReplies.length === 1) this.count('place-twin-parted');
    if (first.status === 409 && first.body.error === 'NoValidHost') {
      for (const other of replies) if (other.status !== 409) this.wrong(`twin of a refused ${uuid}`, other);
      this.count('place-refused');
      for (const why of Object.keys(first.body.refusals ?? {})) this.count(`place-refused-${why}`);
      if (first.body.attempts >= MAX_ATTEMPTS) return;
      const scope = this.nodeIds.filter((n) => this.model.inScope(n, f));
      return this.afterStep(() => {
        const room = this.bounds.roomThroughout(amountsOf(body.flavor as Flavor), group, scope);
        if (room.length) this.wrong(`${uuid} refused while ${room} had room throughout`, first);
      });
    }
    const node = first.body.nodeId as string;
    const parted = (x: Reply) => x.status === 409 && x.body.error === 'NoValidHost';
    const odd = replies.find((x) => !parted(x) && (!placedReplies.includes(x) || x.body.nodeId !== node));
    if (odd) return this.wrong(`placement ${uuid}`, odd);
    if (placedReplies.filter((x) => x.status === 201).length !== 1) this.wrong(`${uuid}: not exactly one 201`, first);
    if (!this.model.inScope(node, f)) this.wrong(`${uuid} placed on ${node}, out of its filters`);
    this.count(twin ? 'place-twin' : 'place');
    this.admit(uuid, node, body.flavor as Flavor, group);
    this.sent.set(uuid, { body, placed: [{ uuid, node }] });
  }

  private named(node: string, flavor: Flavor, group: string | undefined): () => Promise<void> {
    const uuid = uuidOf(this.rand);
    return async () => {
      const reply = await api('POST', `/nodes/${node}/instances`, {
        instanceUuid: uuid,
        flavor,
        ...this.groupField(group),
      });
      if (reply.status === 201) {
        this.count('claim');
        return this.admit(uuid, node, flavor, group);
      }
      const error = reply.body?.error as string;
      if (reply.status !== 409 || !['InsufficientResources', 'GroupPolicyViolation'].includes(error)) {
        return this.wrong(`claim ${uuid} on ${node}`, reply);
      }
      this.count(`claim-${error}`);
      this.afterStep(() => {
        const room = this.bounds.roomThroughout(amountsOf(flavor), group, [node]);
        if (room.length) this.wrong(`claim ${uuid} refused (${error}) though ${node} had room throughout`, reply);
      });
    };
  }

  private gang(group: string | undefined): () => Promise<void> {
    const size = 2 + Math.floor(this.rand() * 3);
    const instances = Array.from({ length: size }, () => ({
      instanceUuid: uuidOf(this.rand),
      flavor: pick(this.rand, FLAVORS),
    }));
    const filters = this.filters();
    const body = { instances, ...this.wire(filters), ...this.groupField(group) };
    return async () => {
      const reply = await api('POST', '/placements', body);
      if (reply.status === 409 && reply.body.error === 'NoValidHost') return this.count('gang-refused');
      const placements = (reply.body?.placements ?? []) as { instanceUuid: string; nodeId: string }[];
      if (reply.status !== 201 || placements.length !== size) return this.wrong('gang', reply);
      this.count('gang');
      for (const [i, p] of placements.entries()) {
        if (p.instanceUuid !== instances[i]!.instanceUuid) this.wrong(`gang member ${i} answered out of order`, reply);
        if (!this.model.inScope(p.nodeId, filters)) this.wrong(`gang member on ${p.nodeId}, out of its filters`);
        this.admit(p.instanceUuid, p.nodeId, instances[i]!.flavor, group);
      }
      const placed = placements.map((p) => ({ uuid: p.instanceUuid, node: p.nodeId }));
      this.sent.set(placed[0]!.uuid, { body, placed });
    };
  }

  private async release(uuid: string): Promise<void> {
    const live = this.model.live.get(uuid)!;
    const reply = await api('DELETE', `/nodes/${live.node}/instances/${uuid}`);
    if (reply.status !== 204) return this.wrong(`release ${uuid}`, reply);
    this.count('release');
    this.bounds.release(this.model.release(uuid));
    this.sent.delete(uuid);
  }

  /** The same request again: 200, the same node for every member, nothing written. */
  private async replay(key: string, s: Sent): Promise<void> {
    const reply = await api('POST', '/placements', s.body);
    const got = reply.body?.placements
      ? (reply.body.placements as { instanceUuid: string; nodeId: string }[]).map((p) => ({
          uuid: p.instanceUuid,
          node: p.nodeId,
        }))
      : [{ uuid: key, node: reply.body?.nodeId as string }];
    if (reply.status !== 200 || JSON.stringify(got) !== JSON.stringify(s.placed)) {
      return this.wrong(`replay of ${key} (placed ${JSON.stringify(s.placed)})`, reply);
    }
    this.count(s.placed.length > 1 ? 'replay-gang' : 'replay');
  }

  private async partition(node: string): Promise<Record<string, unknown>[]> {
    const out = await this.store.doc.send(
      new QueryCommand({
        TableName: this.store.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `NODE#${node}` },
        ConsistentRead: true,
      }),
    );
    return out.Items ?? [];
  }

  /** The service's state equals the model's: instances per node, usage, group host items and members. */
  private async compare(): Promise<void> {
    const same = (what: string, got: unknown, want: unknown) => {
      if (JSON.stringify(got) !== JSON.stringify(want))
        this.wrong(`${what}: service ${JSON.stringify(got)}, model ${JSON.stringify(want)}`);
      this.count('checks');
    };
    for (const node of this.nodeIds) {
      const items = await this.partition(node);
      const read = nodeLedgerOf(items)!;
      for (const d of ledgerDiscrepancies(read.ledger)) this.wrong(`${node}: ${d}`);
      const uuids = read.ledger.instances.map((i) => String(i.instanceUuid)).sort();
      same(
        `${node} instances`,
        uuids,
        [...this.model.live.values()]
          .filter((l) => l.node === node)
          .map((l) => l.uuid)
          .sort(),
      );
      same(`${node} claimed`, read.ledger.sum, this.model.claimed(node));
      for (const g of GROUPS) {
        const host = items.find((i) => i.sk === `GROUP#${this.scoped(g.id)}`);
        same(`${node} host item of ${g.id}`, Number(host?.members ?? 0), this.model.membership(g.id).get(node) ?? 0);
      }
    }
    for (const g of GROUPS) {
      const reply = await api('GET', `/server-groups/${this.scoped(g.id)}`);
      const members = (reply.body.members as { instanceUuid: string; nodeId: string }[]).map(
        (m) => `${m.instanceUuid}@${m.nodeId}`,
      );
      const want = [...this.model.live.values()].filter((l) => l.group === g.id).map((l) => `${l.uuid}@${l.node}`);
      same(`members of ${g.id}`, members.sort(), want.sort());
    }
  }
}

/** Runs the campaign; answers the outcomes, or throws a PlacementViolation naming the seed, fleet and step. */
export async function runPlacementCampaign(store: Store, config: PlacementConfig): Promise<Outcomes> {
  const outcomes: Outcomes = {};
  const rand = seeded(config.seed);
  const deadline = Date.now() + config.timeLimitMs;
  for (let fleet = 0; fleet < config.fleets && Date.now() < deadline; fleet++) {
    const run = new Run(store, rand, `${config.label}${fleet}`, outcomes);
    await run.setUp();
    for (let step = 0; step < config.steps && Date.now() < deadline; step++) {
      await run.step(config.workers);
      outcomes.steps = (outcomes.steps ?? 0) + 1;
      if (run.problems.length) {
        throw new PlacementViolation(
          `seed ${config.seed}, fleet ${fleet}, step ${step}:\n  ${run.problems.join('\n  ')}`,
        );
      }
    }
  }
  return outcomes;
}

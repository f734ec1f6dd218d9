// One fleet of the placement campaign (placement-campaign.ts): its nodes and groups, the model, the requests as a
// client sends them, and each step's operations drawn, run at once (placement-run-ops.ts), judged and compared
// with the service (placement-run-compare.ts).
import type { Runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import { api, type Reply } from '../support/api';
import { NO_CHAOS, type Chaos, type ChaosCounts } from '../support/chaos';
import { sendAsClient } from '../support/client';
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
import { compare } from './placement-run-compare';
import { gang, named, place, release, replay } from './placement-run-ops';

/** What the model proved wrong; anything else thrown is a defect of the campaign. */
export class PlacementViolation extends Error {}

export type Outcomes = Record<string, number>;

/** What every fleet of a campaign shares. */
export interface PlacementContext {
  /** The campaign's own client, never faulted, for the comparisons. */
  checker: Store;
  containers: Runtime[];
  /** Draws made while requests run (containers, pauses and the faults themselves). */
  random: () => number;
  outcomes: Outcomes;
  /** The faults of one step, on the handlers' client (NO_CHAOS without them). */
  inject: () => Chaos;
  /** Whether they include faults that leave a write's fate unknown to its writer (500s, lost responses). */
  ambiguous: boolean;
}

/** A request's last answer and how many times it was sent. */
export interface Answer {
  reply: Reply;
  attempts: number;
}

export interface Sent {
  body: Record<string, unknown>;
  /** The members' UUIDs and their nodes, once placed. */
  placed: { uuid: string; node: string }[];
}

export type Rand = () => number;
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const chance = (rand: Rand, p: number) => rand() < p;
/**
 * A UUID from the seed's draws, its first 4 digits from the run's prefix: two campaigns run on one seed into one
 * table (PLACEMENT_SEED replays both tests of a file with it) must not send each other's instances.
 */
const uuidOf = (rand: Rand, prefix: string) => {
  const drawn = 'xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx'.replace(/x/g, () => Math.floor(rand() * 16).toString(16));
  return tagOf(prefix) + drawn.slice(4);
};
const tagOf = (prefix: string) =>
  [...prefix]
    .reduce((h, c) => (h * 31 + c.charCodeAt(0)) & 0xffff, 7)
    .toString(16)
    .padStart(4, '0');

const FLAVORS: Flavor[] = [
  { vcpus: 1, memoryMb: 256, rootGb: 1 },
  { vcpus: 2, memoryMb: 512, rootGb: 2 },
  { vcpus: 1, memoryMb: 1024, rootGb: 4 },
  { vcpus: 4, memoryMb: 256, rootGb: 1 },
];
/** Every node of a fleet is in this aggregate. */
const ALL = 'all';

export class PlacementRun {
  readonly model = new PlacementModel();
  /** Requests that placed something, by their first member, for replays. */
  readonly sent = new Map<string, Sent>();
  nodeIds: string[] = [];
  bounds!: StepBounds;
  /** Soundness checks of the step's answers, run once every answer is in (the bounds need them all). */
  private judgements: (() => void)[] = [];
  private chaos: Chaos = NO_CHAOS;
  readonly problems: string[] = [];

  constructor(
    readonly ctx: PlacementContext,
    readonly rand: Rand,
    private readonly prefix: string,
  ) {}

  count(what: string, n = 1): void {
    this.ctx.outcomes[what] = (this.ctx.outcomes[what] ?? 0) + n;
  }

  wrong(what: string, reply?: Reply): void {
    this.problems.push(reply ? `${what}: ${reply.status} ${JSON.stringify(reply.body)}` : what);
  }

  /**
   * One request of operation `what` as a client sends it: in a random container, under the step's faults, and
   * again as it was after a 5xx (counted as `<what>-resent` once answered).
   */
  async call(what: string, method: string, path: string, body?: unknown): Promise<Answer> {
    const { containers, random } = this.ctx;
    const sender = { containers, random, chaos: this.chaos, onResend: () => this.count('retried-5xx') };
    const answer = await sendAsClient(sender, method, path, body);
    if (answer.attempts > 1) this.count(`${what}-resent`);
    return answer;
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
  readonly scoped = (id: string) => `${this.prefix}-${id}`;

  /** Random filters; every request is kept to this fleet by its aggregates. */
  filters(): Filters {
    const r = this.rand;
    return {
      ...(chance(r, 0.2) ? { required: [pick(r, TRAITS)] } : {}),
      ...(chance(r, 0.1) ? { forbidden: [pick(r, TRAITS)] } : {}),
      memberOf: [chance(r, 0.25) ? pick(r, AGGREGATES) : ALL],
      ...(chance(r, 0.1) ? { candidates: this.nodeIds.filter(() => chance(r, 0.5)).concat(this.nodeIds[0]!) } : {}),
    };
  }

  wire(f: Filters): Filters {
    return { ...f, memberOf: f.memberOf?.map(this.scoped) };
  }

  private groupChoice(): string | undefined {
    // Mostly the hard policies, so that small fleets fill their groups and refusals are tested.
    if (chance(this.rand, 0.25)) return undefined;
    return chance(this.rand, 0.7) ? pick(this.rand, ['aff', 'anti', 'anti2']) : pick(this.rand, GROUPS).id;
  }

  groupField(group: string | undefined) {
    return group === undefined ? {} : { serverGroup: this.scoped(group) };
  }

  /** One step: every worker's operation at once, under the step's faults, then the whole state compared. */
  async step(workers: number): Promise<void> {
    this.bounds = new StepBounds(this.model);
    const busy = new Set<string>();
    const ops = Array.from({ length: workers }, () => this.operation(busy));
    this.judgements = [];
    const chaos = (this.chaos = this.ctx.inject());
    try {
      // Every send of every operation, resends included, lies within this: StepBounds bracket the whole step, so
      // they bound what a request sent again can have met too, and its sends' span needs no allowance.
      await Promise.all(ops.map((op) => op()));
    } finally {
      this.chaos = NO_CHAOS;
      chaos.remove();
      for (const [kind, n] of Object.entries(chaos.counts) as [keyof ChaosCounts, number][])
        if (n) this.count(`fault-${kind}`, n);
    }
    for (const judge of this.judgements) judge();
    this.problems.push(...this.model.invariants());
    await compare(this);
  }

  private operation(busy: Set<string>): () => Promise<void> {
    const r = this.rand();
    const live = [...this.model.live.keys()].filter((u) => !busy.has(u));
    if (r < 0.35 && live.length) {
      const uuid = pick(this.rand, live);
      busy.add(uuid);
      return () => release(this, uuid);
    }
    const replayable = [...this.sent].filter(([, s]) =>
      s.placed.every((p) => this.model.live.has(p.uuid) && !busy.has(p.uuid)),
    );
    if (r < 0.45 && replayable.length) {
      const [key, s] = pick(this.rand, replayable);
      for (const p of s.placed) busy.add(p.uuid);
      return () => replay(this, key, s);
    }
    const flavor = pick(this.rand, FLAVORS);
    const group = this.groupChoice();
    // Arguments are drawn left to right: node before UUID, a gang's members before its filters.
    if (r < 0.55) return named(this, pick(this.rand, this.nodeIds), uuidOf(this.rand, this.prefix), flavor, group);
    if (r < 0.66) return gang(this, this.members(), this.filters(), group);
    const twin = chance(this.rand, 0.2);
    const strategy = pick(this.rand, ['spread', 'pack']);
    const filters = this.filters();
    const body = {
      instanceUuid: uuidOf(this.rand, this.prefix),
      flavor,
      ...this.wire(filters),
      strategy,
      ...this.groupField(group),
    };
    return () => place(this, body, filters, group, twin);
  }

  /** A gang's 2 to 4 members. */
  private members(): { instanceUuid: string; flavor: Flavor }[] {
    const size = 2 + Math.floor(this.rand() * 3);
    return Array.from({ length: size }, () => ({
      instanceUuid: uuidOf(this.rand, this.prefix),
      flavor: pick(this.rand, FLAVORS),
    }));
  }

  afterStep(judge: () => void): void {
    this.judgements.push(judge);
  }

  admit(uuid: string, node: string, flavor: Flavor, group: string | undefined): void {
    if (!this.model.nodes.has(node)) return this.wrong(`${uuid} admitted on ${node}, not a node of this fleet`);
    const live = { uuid, node, amounts: amountsOf(flavor), group };
    this.afterStep(() => {
      if (!this.bounds.couldFit(live.amounts, group, node))
        this.wrong(`${uuid} admitted on ${node}, where it cannot fit`);
    });
    this.model.admit(live);
    this.bounds.admit(live);
  }
}

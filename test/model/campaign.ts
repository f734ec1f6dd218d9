// The model-based campaign shared by the jest tests and `npm run soak`: fast-check generates steps, each
// step runs its workers' operations concurrently through the real handlers on DynamoDB Local, every answer
// is applied to the reference model, and after every step the whole ledger (node items, instance records,
// holds, devices, migrations, owners and each node's view) must equal the model's.
//
// Concurrency: within a step, workers run at once and the commit order is unknown. Answers are applied to
// the model in the order they come back. Per instance that order is the real one (an instance belongs to
// one worker, which sends its requests one after another); across instances only sums (order-free) and
// device holders meet, and the model tolerates a device changing hands in a different order than it
// committed, unless the times prove two holders at once (see LedgerModel.hold). Claims are checked
// soundly at the end of the step: a refused claim must not fit even at the highest usage the node could
// have had during the step, and an admitted one must fit at the lowest.
import fc from 'fast-check';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { handler as queueHandler } from '../../functions/migration-status-queue';
import { inContainer, newContainer, runtime, type Runtime } from '../../lib/api/runtime';
import { createStore, type Store } from '../../lib/store';
import { lambdaContext, sqsRecord } from '../../local/events';
import { api, type Reply } from '../support/api';
import { cellDiscrepancies } from '../support/ledger-check';
import { injectChaos, NO_CHAOS, seeded, type Chaos, type ChaosCounts, type ChaosOptions } from '../support/chaos';
import { Contention, type ContentionOptions } from '../support/contention';
import {
  LedgerModel,
  limitsOf,
  releasing,
  RES,
  reservedOf,
  usage,
  type Amounts,
  type PciRequest,
  type Res,
  type Size,
} from './ledger-model';
import {
  CHANGES,
  FLAVORS,
  NO_OVERHEAD,
  NODES,
  NUMA_FLAVORS,
  NUMA_NODE,
  ORPHANS,
  OVERHEAD,
  PCI_REQUESTS,
  STATES,
  stepsArbitrary,
  type Op,
  type Shape,
  type Step,
} from './ops';

/** Nova's refusal of a live migration that carries a flavor's PCI alias (its reason's dot, then the refusal's). */
const LIVE_ALIAS_REFUSAL =
  'Insufficient compute resources: Non-VIF related PCI requests are not supported for live migration..';
/** The refusal of a NUMA fit alone (no scalar reason before it): the model does not fit cells, so it accepts it. */
const NUMA_REFUSAL =
  'Insufficient compute resources: Requested instance NUMA topology cannot fit the given host NUMA topology.';

/** What the model proved wrong. Everything else thrown is a defect of the campaign itself. */
export class Violation extends Error {}

export interface CampaignConfig extends Shape {
  /** Prefix of the ids a campaign makes, so several can share a table. */
  label: string;
  /** fast-check runs (each a fresh set of nodes). */
  runs: number;
  seed?: number;
  /** Replays one counterexample (with `seed`), as printed on a failure. */
  path?: string;
  /** Faults injected into the handlers' DynamoDB client and Lambda crashes (random draws follow the seed). */
  chaos?: Omit<ChaosOptions, 'random'>;
  /** DynamoDB's contention, simulated on the handlers' client: overlapping transactions cancelled (CU4, CU5). */
  contention?: ContentionOptions;
  /**
   * Lambda containers the HTTP requests go to, each picked at random (1 by default): each keeps its own copies
   * of devices and cells, which lag the others' writes as in AWS.
   */
  containers?: number;
  /** Bounds the whole check, shrinking included. */
  timeLimitMs?: number;
  /** Called after every step (progress of a long run). */
  onStep?: (totals: Totals) => void;
}

export interface Totals {
  runs: number;
  steps: number;
  ops: number;
  /** Requests sent, retries after a 5xx included. */
  requests: number;
  /** Individual comparisons and soundness checks that passed. */
  checks: number;
  outcomes: Record<string, number>;
  faults: ChaosCounts;
  /** 5xx answers the driver retried (a client retrying a failed Lambda). */
  retried5xx: number;
  /** Queue messages delivered again after the consumer reported them failed. */
  redelivered: number;
  /** Status updates re-sent after their Lambda died post-commit, answered `applied: false` (a repeat to the service). */
  appliedButReportedIgnored: number;
  /** Transactions and single writes the simulated contention refused. */
  conflicts: number;
}

export function newTotals(): Totals {
  return {
    runs: 0,
    steps: 0,
    ops: 0,
    requests: 0,
    checks: 0,
    outcomes: {},
    faults: {
      conflict: 0,
      throttle: 0,
      'server-error': 0,
      'lost-response': 0,
      'crash-before-send': 0,
      'crash-after-commit': 0,
    },
    retried5xx: 0,
    redelivered: 0,
    appliedButReportedIgnored: 0,
    conflicts: 0,
  };
}

export interface CampaignResult {
  failed: boolean;
  /** Seed, path, shrinks, the failure and the shrunk steps: enough to replay it. */
  report: string;
  seed: number;
}

const GRID = 1024;
const floorGrid = (x: number) => Math.floor(x * GRID) / GRID;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** JSON with sorted keys and undefined left out, for deep comparisons with a readable difference. */
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canon(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

interface Slot {
  /** The instance in the slot (tracked or not any more). */
  uuid?: string;
  /** The claim that made it, to send again. */
  claim?: { node: string; body: object };
  /** The slot's latest migration. */
  migration?: string;
  /** Highest sequence sent per migration. */
  sent: Map<string, number>;
  lastMessage?: { messageId: string; body: string };
}

interface ClaimLog {
  node: string;
  what: string;
  requested: Amounts;
  limits: Record<Res, number | null>;
  pci: PciRequest[];
  ok: boolean;
  chosen: string[];
  /** Refused by the NUMA fit alone: the scalars are not judged (cellTotals and the cells' invariants are). */
  numaRefused?: boolean;
}

interface StepLog {
  usedBefore: Map<string, Amounts>;
  heldBefore: Map<string, Set<string>>;
  /** Per node, everything given back during the step (an upper bound of how far usage fell). */
  freed: Map<string, Amounts>;
  claims: ClaimLog[];
  migrations: Set<string>;
  instances: Set<string>;
}

interface Sent {
  reply: Reply;
  attempts: number;
  start: number;
  end: number;
}

interface Context {
  store: Store;
  /** The containers HTTP requests go to (see CampaignConfig.containers). */
  containers: Runtime[];
  checker: Store;
  chaos: Chaos;
  totals: Totals;
  random: () => number;
}

class Run {
  readonly model = new LedgerModel();
  readonly nodes: string[];
  readonly slots: Slot[][];
  private counter = 0;

  constructor(
    private readonly ctx: Context,
    private readonly id: string,
    private readonly runNo: number,
    shape: Shape,
  ) {
    this.nodes = NODES.map((_, i) => `${id}-n${i}`);
    this.slots = Array.from({ length: shape.workers }, () =>
      Array.from({ length: shape.slots }, () => ({ sent: new Map() })),
    );
  }

  private count(outcome: string): void {
    this.ctx.totals.outcomes[outcome] = (this.ctx.totals.outcomes[outcome] ?? 0) + 1;
  }

  private uuid(): string {
    const n = ++this.counter;
    return `${this.runNo.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
  }

  /** One request as a client sends it: answered 5xx, it is sent again as it was (up to 12 times). */
  private async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Sent> {
    const start = performance.now();
    for (let attempts = 1; ; attempts++) {
      this.ctx.totals.requests++;
      const { containers, random } = this.ctx;
      const container = containers[Math.floor(random() * containers.length)] as Runtime;
      const reply = await this.ctx.chaos.request(() => inContainer(container, () => api(method, path, body, headers)));
      if (reply.status < 500 || attempts >= 12) return { reply, attempts, start, end: performance.now() };
      this.ctx.totals.retried5xx++;
      await sleep(5 + this.ctx.random() * 20);
    }
  }

  private expect(sent: Sent, status: number | number[], what: string, error?: string): void {
    const ok =
      (Array.isArray(status) ? status : [status]).includes(sent.reply.status) &&
      (error === undefined || sent.reply.body?.error === error);
    if (!ok) {
      throw new Violation(
        `${what}: expected ${String(status)}${error ? ` ${error}` : ''}, got ${sent.reply.status} ${JSON.stringify(sent.reply.body)}`,
      );
    }
  }

  /** Applies an answered request to the model, keeping what the step's soundness checks need. */
  private apply(sent: Sent, log: StepLog | undefined, change: () => void): void {
    this.model.clock = { start: sent.start, end: sent.end };
    if (!log) return change();
    const before = this.nodes.map((n) => this.model.used(n));
    change();
    this.nodes.forEach((n, i) => {
      const after = this.model.used(n);
      const freed = log.freed.get(n) ?? { memoryMb: 0, diskGb: 0, vcpus: 0 };
      for (const r of RES) freed[r] += Math.max(0, (before[i] as Amounts)[r] - after[r]);
      log.freed.set(n, freed);
    });
  }

  /** Registers the nodes (all of them at first, a retired one again) and checks the whole ledger. */
  async setup(indexes = this.nodes.map((_, i) => i), variantNo = 0): Promise<void> {
    for (const i of indexes) {
      const node = this.nodes[i] as string;
      const variant = NODES[i]?.[variantNo];
      if (!variant) continue;
      const sent = await this.call('PUT', `/nodes/${node}`, { ...variant.inventory, pciDevices: variant.devices });
      // A retry after the Lambda died once the node was written finds it registered.
      this.expect(sent, sent.attempts > 1 ? [200, 201] : 201, `register ${node}`);
      this.apply(sent, undefined, () => this.model.putNode(node, variant.inventory, variant.devices));
    }
    await this.check(undefined);
  }

  async step(step: Step): Promise<void> {
    this.ctx.totals.steps++;
    if (step.kind === 'inventory') {
      const node = this.nodes[step.node] as string;
      const variant = NODES[step.node]?.[step.variant];
      if (!variant) return;
      this.ctx.totals.ops++;
      const sent = await this.call('PUT', `/nodes/${node}`, { ...variant.inventory, pciDevices: variant.devices });
      this.expect(sent, 200, `new inventory for ${node}`);
      this.count('inventory');
      this.apply(sent, undefined, () => this.model.putNode(node, variant.inventory, variant.devices));
      await this.check(undefined);
      return;
    }
    if (step.kind === 'retire') return this.retire(step);
    if (step.kind === 'orphans') return this.agentAudit(this.nodes[step.node] as string, ORPHANS[step.variant] ?? []);
    const log: StepLog = {
      usedBefore: new Map(this.nodes.map((n) => [n, this.model.used(n)])),
      heldBefore: new Map(this.nodes.map((n) => [n, this.model.held(n)])),
      freed: new Map(),
      claims: [],
      migrations: new Set(),
      instances: new Set(),
    };
    await Promise.all(
      step.workers.map(async (ops, w) => {
        for (const op of ops) await this.run(w, op, log);
      }),
    );
    this.sound(log);
    await this.check(log);
  }

  private async run(w: number, op: Op, log: StepLog): Promise<void> {
    if (op.kind === 'audit') return this.audit(this.nodes[op.node] as string);
    const slot = this.slots[w]?.[op.slot];
    if (!slot) return;
    const tracked = slot.uuid ? this.model.instances.get(slot.uuid) : undefined;
    if (slot.uuid) log.instances.add(slot.uuid);
    if (slot.migration) log.migrations.add(slot.migration);
    switch (op.kind) {
      case 'claim':
        if (tracked && slot.claim) return this.claimAgain(slot, tracked.nodeId);
        if (slot.claim && slot.uuid && this.model.repeatsRelease(slot.uuid, slot.claim.node))
          await this.claimReleased(slot);
        return this.claim(slot, op, log);
      case 'patch': {
        if (!slot.uuid) return;
        const change = CHANGES[op.change] ?? {};
        this.ctx.totals.ops++;
        const sent = await this.call(
          'PATCH',
          `/nodes/${tracked?.nodeId ?? this.nodes[0]}/instances/${slot.uuid}`,
          change,
        );
        if (!tracked) {
          this.count('patch-untracked');
          return this.expect(sent, 404, 'a state change of an instance no longer tracked', 'InstanceNotFound');
        }
        const released = releasing({ ...tracked.state, ...change });
        // Only a client's own retry may find its release already done.
        const doneBefore = released && sent.attempts > 1 && sent.reply.status === 404;
        if (!doneBefore) {
          this.expect(sent, 200, `state change ${JSON.stringify(change)} of ${slot.uuid}`);
          if (sent.reply.body.tracked !== !released)
            throw new Violation(`state change answered tracked=${sent.reply.body.tracked}`);
        }
        if (tracked.migrationId) log.migrations.add(tracked.migrationId);
        this.count(released ? 'patch-release' : 'patch');
        return this.apply(sent, log, () => void this.model.change(tracked.uuid, change));
      }
      case 'release': {
        if (!slot.uuid) return;
        this.ctx.totals.ops++;
        const sent = await this.call('DELETE', `/nodes/${tracked?.nodeId ?? this.nodes[0]}/instances/${slot.uuid}`);
        this.expect(sent, 204, `release of ${slot.uuid}`);
        if (tracked?.migrationId) log.migrations.add(tracked.migrationId);
        this.count(tracked ? (tracked.migrationId ? 'release-moving' : 'release') : 'release-untracked');
        return this.apply(sent, log, () => this.model.release(slot.uuid as string));
      }
      case 'move':
        if (!tracked) return;
        return this.move(slot, tracked.uuid, op, log);
      case 'status':
        return this.status(slot, op.status, op.sequence, log);
      case 'queue':
        return this.queue(slot, op, log);
      case 'drop': {
        const m = slot.migration ? this.model.migrations.get(slot.migration) : undefined;
        if (!m) return;
        const node = op.role === 'new' ? m.dst : m.src;
        this.ctx.totals.ops++;
        const sent = await this.call('DELETE', `/nodes/${node}/move-claims/${m.id}?flavor=${op.role}`);
        this.expect(sent, 204, `drop of the ${op.role} hold of ${m.id}`);
        this.count('drop');
        return this.apply(sent, log, () => this.model.dropHold(m.id, node, op.role));
      }
    }
  }

  private async claim(slot: Slot, op: Extract<Op, { kind: 'claim' }>, log: StepLog): Promise<void> {
    const node = this.nodes[op.node] as string;
    const uuid = this.uuid();
    // NUMA requests go to the NUMA node only, without devices (whose cell affinity the model does not follow).
    const numa = op.node === NUMA_NODE ? NUMA_FLAVORS[op.numa] : undefined;
    const flavor = numa ?? FLAVORS[op.flavor] ?? (FLAVORS[0] as Size['flavor']);
    const state = STATES[op.state] ?? (STATES[0] as (typeof STATES)[number]);
    const pci = op.pci >= 0 && !numa ? (PCI_REQUESTS[op.pci] ?? []) : [];
    const overhead = op.overhead ? OVERHEAD : NO_OVERHEAD;
    const inventory = this.model.node(node).inventory;
    const limits = op.limit ? { [op.limit.res]: Math.floor(limitsOf(inventory)[op.limit.res] * op.limit.factor) } : {};
    const body = {
      instanceUuid: uuid,
      flavor,
      volumeBacked: op.volumeBacked,
      overhead,
      limits,
      pciRequests: pci,
      ...state,
    };
    const size: Size = { flavor, overhead, volumeBacked: op.volumeBacked, devices: [] };
    const requested = usage(size);
    this.ctx.totals.ops++;
    const sent = await this.call('POST', `/nodes/${node}/instances`, body, { prefer: 'return=minimal' });
    slot.uuid = uuid;
    slot.claim = undefined;
    log.instances.add(uuid);
    const entry: ClaimLog = {
      node,
      what: `claim ${uuid} on ${node}`,
      requested,
      limits: LedgerModel.effective(inventory, limits),
      pci,
      ok: false,
      chosen: [],
    };
    log.claims.push(entry);
    if (sent.reply.status === 409 && sent.reply.body?.error === 'InsufficientResources') {
      entry.numaRefused = sent.reply.body.message === NUMA_REFUSAL;
      if (entry.numaRefused && !numa) throw new Violation(`${entry.what} without a NUMA request refused by NUMA`);
      return this.count(entry.numaRefused ? 'claim-refused-numa' : 'claim-refused');
    }
    // A retry of a claim that committed before its Lambda died answers 200 with that claim.
    this.expect(sent, sent.attempts > 1 ? [200, 201] : 201, entry.what);
    const got = sent.reply.body;
    if (canon({ memoryMb: got.memoryMb, diskGb: got.diskGb, vcpus: got.vcpus }) !== canon(requested)) {
      throw new Violation(`${entry.what} recorded ${canon(got)} for ${canon(requested)}`);
    }
    const chosen = (got.pciDevices ?? []) as string[];
    this.model.checkChosen(node, pci, chosen);
    entry.ok = true;
    entry.chosen = chosen;
    slot.claim = { node, body };
    this.count(pci.length ? 'claim-pci' : numa ? 'claim-numa' : 'claim');
    this.apply(sent, log, () => this.model.claim(node, uuid, { ...size, devices: chosen }, state));
  }

  /** The same claim again: 200 and nothing changes while the instance is on that node, else a conflict. */
  private async claimAgain(slot: Slot, host: string): Promise<void> {
    const claim = slot.claim as NonNullable<Slot['claim']>;
    this.ctx.totals.ops++;
    const sent = await this.call('POST', `/nodes/${claim.node}/instances`, claim.body, { prefer: 'return=minimal' });
    // Under injected 500s the store cannot tell its own earlier write from this one's and answers 201.
    if (host === claim.node)
      this.expect(sent, this.ctx.chaos === NO_CHAOS ? 200 : [200, 201], `the claim of ${slot.uuid} sent again`);
    else this.expect(sent, 409, `the claim of ${slot.uuid} sent again after it moved`, 'InstanceConflict');
    this.count('claim-again');
  }

  /** A released claim sent again, late: refused on its node while the window lasts (rule O5), nothing changes. */
  private async claimReleased(slot: Slot): Promise<void> {
    const claim = slot.claim as NonNullable<Slot['claim']>;
    const uuid = slot.uuid as string;
    this.ctx.totals.ops++;
    const sent = await this.call('POST', `/nodes/${claim.node}/instances`, claim.body, { prefer: 'return=minimal' });
    this.expect(sent, 409, `the released claim of ${uuid} sent again`, 'InstanceConflict');
    this.count('claim-released-again');
  }

  private async move(slot: Slot, uuid: string, op: Extract<Op, { kind: 'move' }>, log: StepLog): Promise<void> {
    const instance = this.model.instances.get(uuid);
    if (!instance) return;
    // A NUMA guest moves only from the NUMA node (off it, a record keeps no cells to fit again from).
    const numa = instance.size.flavor.extraSpecs !== undefined;
    if (numa && instance.nodeId !== this.nodes[NUMA_NODE]) return;
    const dst = this.nodes[op.node] as string;
    const migrationId = `${this.id}-m${++this.counter}`;
    this.ctx.totals.ops++;
    if (instance.migrationId) {
      const sent = await this.call('POST', `/nodes/${dst}/move-claims`, {
        migrationId,
        instanceUuid: uuid,
        moveType: 'migration',
        sourceNodeId: instance.nodeId,
      });
      // Onto its own node the request alone is refused, before the instance is read (rule M6).
      const error = dst === instance.nodeId ? 'InvalidMove' : 'InstanceConflict';
      this.expect(sent, 409, `a second move of ${uuid}`, error);
      return this.count('move-while-moving');
    }
    if (dst === instance.nodeId && op.moveType !== 'resize') {
      // Only a resize may stay on its node (rule M6): refused, nothing written; then the same-host resize.
      const refused = await this.call('POST', `/nodes/${dst}/move-claims`, {
        migrationId,
        instanceUuid: uuid,
        moveType: op.moveType,
        sourceNodeId: instance.nodeId,
      });
      this.expect(refused, 409, `a ${op.moveType} of ${uuid} onto its own node`, 'InvalidMove');
      this.count('move-onto-own-node');
    }
    const moveType = dst === instance.nodeId ? 'resize' : op.moveType;
    const newFlavor = moveType === 'resize' ? FLAVORS[op.flavor] : undefined;
    const overhead = op.overhead ? OVERHEAD : undefined;
    const pci = op.pci >= 0 && !numa ? (PCI_REQUESTS[op.pci] ?? []) : [];
    if (moveType === 'live-migration' && pci.some((r) => r.aliasName !== undefined))
      return this.liveAliasRefused(migrationId, uuid, instance.nodeId, dst, pci);
    const body = {
      migrationId,
      instanceUuid: uuid,
      moveType,
      sourceNodeId: instance.nodeId,
      newFlavor,
      overhead,
      pciRequests: pci,
    };
    const size: Size = {
      flavor: newFlavor ?? instance.size.flavor,
      overhead: overhead ?? instance.size.overhead,
      volumeBacked: instance.size.volumeBacked,
      devices: [],
    };
    const requested = usage(size);
    const sent = await this.call('POST', `/nodes/${dst}/move-claims`, body, { prefer: 'return=minimal' });
    const inventory = this.model.node(dst).inventory;
    const entry: ClaimLog = {
      node: dst,
      what: `${moveType} ${migrationId} of ${uuid} to ${dst}`,
      requested,
      limits: LedgerModel.effective(inventory, {}),
      pci,
      ok: false,
      chosen: [],
    };
    log.claims.push(entry);
    log.migrations.add(migrationId);
    if (sent.reply.status === 409 && sent.reply.body?.error === 'InsufficientResources')
      return this.count('move-refused');
    this.expect(sent, sent.attempts > 1 ? [200, 201] : 201, entry.what);
    const claim = sent.reply.body.claim;
    if (canon({ memoryMb: claim.memoryMb, diskGb: claim.diskGb, vcpus: claim.vcpus }) !== canon(requested)) {
      throw new Violation(`${entry.what} holds ${canon(claim)} for ${canon(requested)}`);
    }
    const chosen = (claim.pciDevices ?? []) as string[];
    this.model.checkChosen(dst, pci, chosen);
    entry.ok = true;
    entry.chosen = chosen;
    slot.migration = migrationId;
    this.count(`move-${moveType}${dst === instance.nodeId ? '-same-host' : ''}`);
    this.apply(sent, log, () =>
      this.model.moveClaim({
        id: migrationId,
        uuid,
        moveType,
        src: instance.nodeId,
        dst,
        new: { ...size, devices: chosen },
      }),
    );
  }

  /** A live migration with a flavor's alias request is refused before anything is read (rule L3), in Nova's words. */
  private async liveAliasRefused(migrationId: string, uuid: string, src: string, dst: string, pci: PciRequest[]) {
    const body = { migrationId, instanceUuid: uuid, moveType: 'live-migration', sourceNodeId: src, pciRequests: pci };
    const sent = await this.call('POST', `/nodes/${dst}/move-claims`, body);
    this.expect(sent, 409, `a live migration of ${uuid} with an alias request`, 'InsufficientResources');
    if (sent.reply.body?.message !== LIVE_ALIAS_REFUSAL)
      throw new Violation(`the alias refusal of ${migrationId} says ${JSON.stringify(sent.reply.body?.message)}`);
    this.count('move-live-alias-refused');
  }

  private async status(slot: Slot, status: string, mode: 'next' | 'stale' | 'none', log: StepLog): Promise<void> {
    const m = slot.migration ? this.model.migrations.get(slot.migration) : undefined;
    if (!m) return;
    let sequence: number | undefined;
    if (mode === 'next') {
      sequence = (slot.sent.get(m.id) ?? 0) + 1;
      slot.sent.set(m.id, sequence);
    } else if (mode === 'stale' && m.sequence > 0) sequence = m.sequence;
    this.ctx.totals.ops++;
    const sent = await this.call(
      'POST',
      `/migrations/${m.id}/status`,
      sequence === undefined ? { status } : { status, sequence },
    );
    const what = `status ${status} (sequence ${sequence}) of ${m.id}, ${m.moveType} ${m.src} → ${m.dst} at ${m.status}`;
    const decided: ReturnType<LedgerModel['status']>[] = [];
    this.apply(sent, log, () => decided.push(this.model.status(m.id, status, sequence)));
    const decision = decided[0] ?? 'ignore';
    this.count(`status-${decision}`);
    if (decision === 'invalid') return this.expect(sent, 409, what, 'InvalidTransition');
    this.expect(sent, 200, what);
    const got = sent.reply.body;
    if (got.applied === (decision === 'apply')) return;
    // The client sent it again after its Lambda died having committed it: to the service that is a repeat.
    // (A lost response inside one request is recognised by the store's own retry and answers applied.)
    if (decision === 'apply' && sent.attempts > 1 && got.status === status && got.sequence === m.sequence) {
      this.ctx.totals.appliedButReportedIgnored++;
      return;
    }
    throw new Violation(`${what}: answered applied=${got.applied}, the model says ${decision}`);
  }

  /**
   * Status updates through the SQS consumer: one batch of the migration's messages, in order or not, with
   * a duplicate and a redelivery of an old message. A refused one is rejected at once and the rest of its
   * group goes on (rule OP1); failed messages are delivered again, as SQS would, until none fails.
   */
  private async queue(slot: Slot, op: Extract<Op, { kind: 'queue' }>, log: StepLog): Promise<void> {
    const m = slot.migration ? this.model.migrations.get(slot.migration) : undefined;
    if (!m) return;
    const first = (slot.sent.get(m.id) ?? 0) + 1;
    const messages = op.statuses.map((status, k) => ({
      messageId: this.uuid(),
      body: JSON.stringify({ migrationId: m.id, status, sequence: first + k }),
      status,
      sequence: first + k,
    }));
    slot.sent.set(m.id, first + messages.length - 1);
    const delivered: { messageId: string; body: string }[] = op.reorder ? [...messages].reverse() : [...messages];
    if (op.duplicate && delivered[0]) delivered.push({ messageId: this.uuid(), body: delivered[0].body });
    if (op.redeliver && slot.lastMessage) delivered.unshift(slot.lastMessage);
    slot.lastMessage = messages[messages.length - 1];
    const records = delivered.map((d, n) =>
      sqsRecord({
        ...d,
        groupId: m.uuid,
        deduplicationId: d.messageId,
        sequenceNumber: String(n + 1).padStart(20, '0'),
        sentAt: Date.now(),
        receiveCount: 1,
      }),
    );
    this.ctx.totals.ops++;
    const start = performance.now();
    const consume = async (batch: SQSRecord[]): Promise<string[]> => {
      this.ctx.totals.requests++;
      const response = (await this.ctx.chaos.request(() =>
        queueHandler({ Records: batch }, lambdaContext('migration-status-queue')),
      )) as SQSBatchResponse;
      return response.batchItemFailures.map((f) => f.itemIdentifier);
    };
    let failed = await consume(records);
    const at = m.status;
    this.apply(
      { reply: { status: 200, headers: {}, body: undefined }, attempts: 1, start, end: performance.now() },
      log,
      () => {
        // A refused message is acknowledged, and the group's next one applies after it (rule OP1).
        for (const d of delivered) {
          // A redelivered message may belong to the instance's previous migration.
          const { migrationId, status, sequence } = JSON.parse(d.body) as {
            migrationId: string;
            status: string;
            sequence: number;
          };
          log.migrations.add(migrationId);
          const decision = this.model.status(migrationId, status, sequence);
          if (decision === 'apply') this.count('queue-status-apply');
          if (decision === 'invalid') this.count('queue-status-rejected');
        }
      },
    );
    for (let round = 0; failed.length > 0 && round < 10; round++) {
      const again = records
        .filter((r) => failed.includes(r.messageId))
        .map((r) => ({
          ...r,
          attributes: {
            ...r.attributes,
            ApproximateReceiveCount: String(Number(r.attributes.ApproximateReceiveCount) + 1),
          },
        }));
      this.ctx.totals.redelivered += again.length;
      failed = await consume(again);
    }
    this.count('queue');
    if (failed.length > 0) {
      throw new Violation(
        `queue batch ${delivered.map((d) => d.body).join(' ')} for ${m.id} at ${at}: still failing ${canon(failed)}, the model expects none`,
      );
    }
  }

  /**
   * An operator retires a node and registers one under the same id, as when a host is reinstalled: refused while
   * it tracks anything (409 NodeInUse, nothing changes). With `drain`, its instances are released and its holds
   * dropped first; with `race`, a claim is sent with the delete: it lands first (the delete is refused) or finds
   * no node (404). Deleted, the node leaves nothing in its partition, and registered again it starts from nothing.
   */
  private async retire(step: Extract<Step, { kind: 'retire' }>): Promise<void> {
    const node = this.nodes[step.node] as string;
    const variant = NODES[step.node]?.[step.variant];
    if (!variant) return;
    if (step.drain) await this.drain(node);
    const { instances, holds } = this.model.holdings(node);
    if (instances.length + holds.length) {
      this.ctx.totals.ops++;
      const sent = await this.call('DELETE', `/nodes/${node}`);
      this.expect(sent, 409, `the delete of ${node}, which tracks ${instances.length + holds.length}`, 'NodeInUse');
      this.count('retire-in-use');
      return this.check(undefined);
    }
    if (!(step.race && (await this.claimRacingDelete(node)))) {
      this.ctx.totals.ops++;
      const deleted = await this.call('DELETE', `/nodes/${node}`);
      // A retry after the Lambda died once the node item was gone finds no node (and removes what it left).
      this.expect(deleted, deleted.attempts > 1 ? [204, 404] : 204, `the delete of ${node}`);
      await this.gone(node);
    }
    this.count('retire');
    await this.setup([step.node], step.variant);
  }

  /**
   * A claim sent with the delete of a node that tracks nothing: one of the two is refused. True if the delete
   * won; else the claim is released again, to leave the node as it was.
   */
  private async claimRacingDelete(node: string): Promise<boolean> {
    const uuid = this.uuid();
    const [flavor, state] = [FLAVORS[0] as Size['flavor'], STATES[0] as (typeof STATES)[number]];
    const body = { instanceUuid: uuid, flavor, ...state };
    this.ctx.totals.ops += 2;
    const [deleted, claimed] = await Promise.all([
      this.call('DELETE', `/nodes/${node}`),
      this.call('POST', `/nodes/${node}/instances`, body, { prefer: 'return=minimal' }),
    ]);
    const what = `a claim racing the delete of ${node} (claim ${claimed.reply.status}, delete ${deleted.reply.status})`;
    if (claimed.reply.status === 404) {
      this.expect(claimed, 404, what, 'NodeNotFound');
      this.expect(deleted, deleted.attempts > 1 ? [204, 404] : 204, what);
      await this.gone(node);
      this.count('retire-race-delete-won');
      return true;
    }
    this.expect(claimed, claimed.attempts > 1 ? [200, 201] : 201, what);
    this.expect(deleted, 409, what, 'NodeInUse');
    const size = { flavor, overhead: NO_OVERHEAD, volumeBacked: false, devices: [] };
    this.apply(claimed, undefined, () => this.model.claim(node, uuid, size, state));
    this.count('retire-race-claim-won');
    this.ctx.totals.ops++;
    const released = await this.call('DELETE', `/nodes/${node}/instances/${uuid}`);
    this.expect(released, 204, `the release of ${uuid}, which kept ${node} in use`);
    this.apply(released, undefined, () => this.model.release(uuid));
    return false;
  }

  /** Releases every instance on the node and drops every hold there, as a client would before retiring it. */
  private async drain(node: string): Promise<void> {
    for (const { uuid } of this.model.holdings(node).instances) {
      this.ctx.totals.ops++;
      const sent = await this.call('DELETE', `/nodes/${node}/instances/${uuid}`);
      this.expect(sent, 204, `the release of ${uuid} to retire ${node}`);
      this.apply(sent, undefined, () => this.model.release(uuid));
    }
    for (const { migration, role } of this.model.holdings(node).holds) {
      this.ctx.totals.ops++;
      const sent = await this.call('DELETE', `/nodes/${node}/move-claims/${migration.id}?flavor=${role}`);
      this.expect(sent, 204, `the drop of the ${role} hold of ${migration.id} to retire ${node}`);
      this.apply(sent, undefined, () => this.model.dropHold(migration.id, node, role));
    }
    this.count('retire-drain');
  }

  /** A deleted node: nothing left in its partition (devices, cells, waiting claims), and no view. */
  private async gone(node: string): Promise<void> {
    const left = (await this.partition(node)).map((i) => String(i.sk));
    this.ctx.totals.checks++;
    if (left.length) throw new Violation(`${node} was deleted, yet its partition still holds ${left.join(', ')}`);
    const view = await this.call('GET', `/nodes/${node}`);
    this.expect(view, 404, `the view of ${node}, deleted`, 'NodeNotFound');
    this.model.retire(node);
  }

  /** An agent's audit with its orphans: they replace the node's set, the drift is their change (rule M10). */
  private async agentAudit(node: string, orphans: { instanceUuid: string; memoryMb: number }[]): Promise<void> {
    this.ctx.totals.ops++;
    const before = this.model.orphanMemory(node);
    const sent = await this.call('POST', `/nodes/${node}/audit`, { orphans });
    this.expect(sent, 200, `agent audit of ${node}`);
    this.apply(sent, undefined, () => this.model.reportOrphans(node, orphans));
    const want = { memoryMbUsed: this.model.orphanMemory(node) - before, localGbUsed: 0, vcpusUsed: 0 };
    // A retry after a lost answer finds the set already replaced.
    if (sent.attempts === 1 && canon(sent.reply.body.drift) !== canon(want))
      throw new Violation(
        `agent audit of ${node} found drift ${canon(sent.reply.body.drift)}, the model ${canon(want)}`,
      );
    this.count('audit-orphans');
    await this.check(undefined);
  }

  private async audit(node: string): Promise<void> {
    this.ctx.totals.ops++;
    const sent = await this.call('POST', `/nodes/${node}/audit`, {});
    this.expect(sent, 200, `audit of ${node}`);
    const { drift, unknownInstances, missingInstances } = sent.reply.body;
    if (
      canon(drift) !== canon({ memoryMbUsed: 0, localGbUsed: 0, vcpusUsed: 0 }) ||
      unknownInstances.length ||
      missingInstances.length
    ) {
      throw new Violation(`audit of ${node} found drift ${canon(drift)}: the ledger was not exact`);
    }
    this.ctx.totals.checks++;
    this.count('audit');
  }

  /** The step's claims, judged against what the node could have held while they ran. */
  private sound(log: StepLog): void {
    const problems = this.model.exclusive();
    this.ctx.totals.checks++;
    for (const c of log.claims) {
      const admitted = log.claims.filter((o) => o.ok && o.node === c.node);
      if (!c.ok && !c.numaRefused) {
        const highest = { ...(log.usedBefore.get(c.node) as Amounts) };
        for (const o of admitted) for (const r of RES) highest[r] += o.requested[r];
        const held = new Set([...(log.heldBefore.get(c.node) ?? []), ...admitted.flatMap((o) => o.chosen)]);
        const pciFits = c.pci.length === 0 || this.model.canMeet(c.node, c.pci, held);
        if (LedgerModel.fits(c.limits, highest, c.requested) && pciFits) {
          problems.push(
            `${c.what} was refused, yet ${canon(c.requested)} fits under ${canon(c.limits)} even at ${canon(highest)}${c.pci.length ? ' and its devices were free' : ''}`,
          );
        }
      } else {
        const lowest = { ...(log.usedBefore.get(c.node) as Amounts) };
        const freed = log.freed.get(c.node);
        for (const r of RES) lowest[r] -= freed?.[r] ?? 0;
        if (!LedgerModel.fits(c.limits, lowest, c.requested)) {
          problems.push(
            `${c.what} was admitted, yet ${canon(c.requested)} does not fit under ${canon(c.limits)} even at ${canon(lowest)}`,
          );
        }
      }
      this.ctx.totals.checks++;
    }
    // No limit exceeded: once a claim landed on a node, its usage stayed within the node's limits.
    for (const node of this.nodes) {
      const used = this.model.used(node);
      const limits = limitsOf(this.model.node(node).inventory);
      for (const r of RES) {
        if (
          used[r] > limits[r] &&
          log.claims.some((c) => c.ok && c.node === node && c.requested[r] > 0 && c.limits[r] !== null)
        ) {
          problems.push(`${node} uses ${used[r]} ${r} over its limit ${limits[r]} after admitting a claim`);
        }
      }
      this.ctx.totals.checks++;
    }
    if (problems.length) throw new Violation(problems.join('\n'));
  }

  /** The service's whole ledger for this run's nodes equals the model's, item by item. */
  async check(log: StepLog | undefined): Promise<void> {
    const problems: string[] = [];
    const same = (what: string, got: unknown, want: unknown) => {
      this.ctx.totals.checks++;
      if (canon(got) !== canon(want)) problems.push(`${what}:\n    service ${canon(got)}\n    model   ${canon(want)}`);
    };
    for (const node of this.nodes) {
      const items = await this.partition(node);
      const nodeItem = items.find((i) => i.sk === 'NODE') ?? {};
      const model = this.model.node(node);
      const used = this.model.used(node);
      const reserved = reservedOf(model.inventory);
      const limits = limitsOf(model.inventory);
      const { instances, holds } = this.model.holdings(node);
      const columns = { memoryMb: 'memoryMb', diskGb: 'localGb', vcpus: 'vcpus' } as const;
      for (const r of RES) {
        const c = columns[r];
        same(
          `${node} ${r} used / claimed / headroom`,
          [nodeItem[`${c}Used`], nodeItem[`${c}Claimed`], nodeItem[`${c}Headroom`]],
          [used[r], used[r] - reserved[r], floorGrid(limits[r]) - used[r]],
        );
      }
      same(`${node} tracked items`, nodeItem.trackedCount, instances.length + holds.length);
      same(`${node} orphan memory`, nodeItem.orphanMemoryMb ?? 0, this.model.orphanMemory(node));
      // The stats are the view's, computed from the records (rule S6): the node item stores none.
      same(`${node} stored stats`, nodeItem.stats, undefined);
      const storedPools = Object.values((nodeItem.pciPools ?? {}) as Record<string, { count: number }>).filter(
        (p) => p.count !== 0,
      );
      same(`${node} stored PCI pools`, storedPools.map(canon).sort(), this.model.pools(node).map(canon).sort());

      const records = items.filter((i) => String(i.sk).startsWith('INSTANCE#'));
      same(
        `${node} instance records`,
        records
          .map((i) =>
            canon({
              uuid: i.instanceUuid,
              memoryMb: i.memoryMb,
              diskGb: i.diskGb,
              vcpus: i.vcpus,
              flavor: i.flavor,
              vmState: i.vmState,
              taskState: i.taskState ?? null,
              osType: i.osType ?? null,
              projectId: i.projectId ?? null,
              migrationId: i.migrationId ?? null,
              pciDevices: [...((i.pciDevices as string[]) ?? [])].sort(),
            }),
          )
          .sort(),
        instances
          .map((i) =>
            canon({
              uuid: i.uuid,
              ...usage(i.size),
              flavor: i.size.flavor,
              ...i.state,
              migrationId: i.migrationId ?? null,
              pciDevices: [...i.size.devices].sort(),
            }),
          )
          .sort(),
      );
      same(
        `${node} move holds`,
        items
          .filter((i) => String(i.sk).startsWith('MOVE#'))
          .map((i) =>
            canon({
              m: i.migrationId,
              role: i.role,
              uuid: i.instanceUuid,
              memoryMb: i.memoryMb,
              diskGb: i.diskGb,
              vcpus: i.vcpus,
              pciDevices: [...((i.pciDevices as string[]) ?? [])].sort(),
            }),
          )
          .sort(),
        holds
          .map((h) =>
            canon({
              m: h.migration.id,
              role: h.role,
              uuid: h.migration.uuid,
              ...usage(h.size),
              pciDevices: [...h.size.devices].sort(),
            }),
          )
          .sort(),
      );
      this.checkCells(node, items, same);
      const devices = [...model.devices.values()];
      same(
        `${node} devices`,
        items
          .filter((i) => String(i.sk).startsWith('PCI#'))
          .map((d) =>
            canon({
              address: d.address,
              type: d.deviceType,
              vendor: d.vendorId,
              product: d.productId,
              parent: d.parentAddress ?? null,
              net: d.physicalNetwork ?? null,
              owner: d.owner ?? null,
              removed: Boolean(d.removed),
              busy: d.busyChildren,
            }),
          )
          .sort(),
        devices
          .map((d) =>
            canon({
              address: d.spec.address,
              type: d.spec.deviceType,
              vendor: d.spec.vendorId,
              product: d.spec.productId,
              parent: d.spec.parentAddress ?? null,
              net: d.spec.physicalNetwork ?? null,
              owner: d.holders[0] ?? null,
              removed: d.removed,
              busy: devices.filter((v) => v.spec.parentAddress === d.spec.address && v.holders.length).length,
            }),
          )
          .sort(),
      );

      const view = await this.call('GET', `/nodes/${node}`);
      if (view.reply.status !== 200) problems.push(`GET ${node} answered ${view.reply.status}`);
      const v = view.reply.body ?? {};
      const shown = {
        vcpusUsed: v.vcpusUsed,
        memoryMbUsed: v.memoryMbUsed,
        localGbUsed: v.localGbUsed,
        freeRamMb: v.freeRamMb,
        freeDiskGb: v.freeDiskGb,
        runningVms: v.runningVms,
        currentWorkload: v.currentWorkload,
        limits: v.limits,
        // Exactly the records' keys, none at 0 (rule S6).
        stats: v.stats,
        pciDevicePools: v.pciDevicePools,
      };
      same(`${node} view`, shown, this.model.view(node));
    }
    for (const id of log?.migrations ?? []) {
      const m = this.model.migrations.get(id);
      const item = await this.get({ pk: `MIGRATION#${id}`, sk: 'MIGRATION' });
      same(
        `migration ${id}`,
        item ? { status: item.status, sequence: item.sequence } : null,
        m ? { status: m.status, sequence: m.sequence } : null,
      );
    }
    for (const uuid of log?.instances ?? []) {
      const owner = await this.get({ pk: `INSTANCE#${uuid}`, sk: 'OWNER' });
      // A release leaves a tombstone (rule O5): the instance has no owner.
      const holder = owner && owner.released !== true ? owner.nodeId : null;
      same(`owner of ${uuid}`, holder ?? null, this.model.instances.get(uuid)?.nodeId ?? null);
    }
    if (problems.length) throw new Violation(`the ledger differs from the model:\n  ${problems.join('\n  ')}`);
  }

  /** The cells add up to the records and holds, pin no CPU twice nor outside pcpuset, and hold the model's totals. */
  private checkCells(
    node: string,
    items: Record<string, unknown>[],
    same: (w: string, g: unknown, x: unknown) => void,
  ) {
    const want = this.model.cellTotals(node);
    const cells = items.filter((i) => String(i.sk).startsWith('NUMA#'));
    if (!want) return same(`${node} NUMA cells`, cells.length, 0);
    same(`${node} cells add up`, cellDiscrepancies(items), []);
    const inventory = this.model.node(node).inventory.numaTopology?.cells ?? [];
    const pins = cells.map((c) => [...((c.pinned as Set<number> | undefined) ?? [])].map(Number));
    const outside = cells.flatMap((c, k) =>
      (pins[k] ?? []).filter((p) => !inventory.find((h) => h.id === Number(c.cellId))?.pcpuset.includes(p)),
    );
    same(`${node} pins outside pcpuset`, outside, []);
    const sum = (f: (c: Record<string, unknown>) => unknown) => cells.reduce((n, c) => n + Number(f(c) ?? 0), 0);
    same(
      `${node} cells: pinned, shared CPU usage, memory, 2 MiB pages`,
      {
        pinned: pins.flat().length,
        cpuUsage: sum((c) => c.cpuUsage),
        memoryMb: sum((c) => c.memoryUsageMb),
        pages2048: sum((c) => c.pagesUsed2048),
      },
      want,
    );
  }

  private async partition(node: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.ctx.checker.doc.send(
        new QueryCommand({
          TableName: this.ctx.checker.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `NODE#${node}` },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  private async get(key: { pk: string; sk: string }): Promise<Record<string, unknown> | undefined> {
    const out = await this.ctx.checker.doc.send(
      new GetCommand({ TableName: this.ctx.checker.tableName, Key: key, ConsistentRead: true }),
    );
    return out.Item;
  }
}

const MAX_REPORTED_STEPS = 6_000;

/**
 * Runs a campaign against the handlers configured by the environment (TABLE_NAME, DYNAMODB_ENDPOINT).
 * Adds to `totals`; returns whether it failed, with a report to replay it.
 */
export async function runCampaign(config: CampaignConfig, totals: Totals = newTotals()): Promise<CampaignResult> {
  const seed = config.seed ?? (Date.now() ^ (Math.random() * 0x100000000)) >>> 0;
  const store = runtime().store;
  const checker = createStore(
    { tableName: store.tableName, endpoint: process.env.DYNAMODB_ENDPOINT || undefined },
    { devices: store.devices },
  );
  const random = seeded(seed);
  const chaos = config.chaos ? injectChaos(store, { ...config.chaos, random }) : NO_CHAOS;
  const contention = config.contention ? new Contention(config.contention) : undefined;
  const uncontend = contention?.attach(store.client);
  const containers = [runtime(), ...Array.from({ length: (config.containers ?? 1) - 1 }, newContainer)];
  const ctx: Context = { store, containers, checker, chaos, totals, random };
  let runNo = 0;
  let firstFailure: string | undefined;
  const property = fc.asyncProperty(stepsArbitrary(config), async (steps) => {
    const run = new Run(ctx, `${config.label}${seed.toString(36)}-${++runNo}`, (seed + runNo) % 0xffffffff, config);
    totals.runs++;
    try {
      await run.setup();
      for (const step of steps) {
        await run.step(step);
        config.onStep?.(totals);
      }
    } catch (error) {
      // Concurrency makes a shrunk replay fail differently, or not at all: keep the original failure.
      firstFailure ??= error instanceof Error ? error.message : String(error);
      throw error;
    }
  });
  try {
    const out = await fc.check(property, {
      seed,
      numRuns: config.runs,
      // Full-size runs from the first one: a campaign is a few long runs, not many small ones.
      unbiased: true,
      // A replay runs the printed counterexample alone: shrinking it again would take minutes under contention.
      ...(config.path ? { path: config.path, endOnFailure: true } : {}),
      ...(config.timeLimitMs ? { interruptAfterTimeLimit: config.timeLimitMs, markInterruptAsFailure: false } : {}),
    });
    if (!out.failed) return { failed: false, report: `seed ${seed}: ${out.numRuns} run(s) passed`, seed };
    const error = out.errorInstance instanceof Error ? out.errorInstance : new Error(String(out.errorInstance));
    const steps = JSON.stringify(out.counterexample?.[0] ?? null);
    const report = [
      `campaign failed (${error instanceof Violation ? 'the service differs from the model' : `the campaign itself threw ${error.name}`}) after ${out.numShrinks} shrink(s)`,
      `replay: CAMPAIGN_SEED=${out.seed} CAMPAIGN_PATH=${out.counterexamplePath ?? ''}`,
      error instanceof Violation ? error.message : (error.stack ?? error.message),
      ...(firstFailure && firstFailure !== error.message ? [`first failure, before shrinking: ${firstFailure}`] : []),
      `steps of the shrunk counterexample: ${steps.length > MAX_REPORTED_STEPS ? `${steps.slice(0, MAX_REPORTED_STEPS)}…` : steps}`,
    ].join('\n');
    return { failed: true, report, seed };
  } finally {
    for (const [k, n] of Object.entries(chaos.counts)) totals.faults[k as keyof ChaosCounts] += n;
    chaos.remove();
    uncontend?.();
    if (contention) totals.conflicts += contention.counts.cancelled + contention.counts.singleWrites;
  }
}

/** CAMPAIGN_SEED and CAMPAIGN_PATH from the environment, to replay a failure. */
export function replayFromEnv(): { seed?: number; path?: string } {
  const seed = process.env.CAMPAIGN_SEED;
  const path = process.env.CAMPAIGN_PATH;
  return { ...(seed ? { seed: Number(seed) } : {}), ...(path ? { path } : {}) };
}

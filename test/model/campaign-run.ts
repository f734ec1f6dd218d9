// One fast-check run of the campaign: its nodes, its workers' slots and the model, the requests as a client
// sends them, and each step dispatched to the operations it is made of (campaign-instances.ts,
// campaign-moves.ts, campaign-nodes.ts), judged by campaign-soundness.ts and compared by campaign-checks.ts.
import { sendAsClient } from '../support/client';
import { check } from './campaign-checks';
import { claim, claimAgain, claimReleased, patch, release } from './campaign-instances';
import { drop, move, queue, status } from './campaign-moves';
import { agentAudit, audit, retire } from './campaign-nodes';
import { sound } from './campaign-soundness';
import { canon, Violation, type ClaimLog, type Context, type Sent, type Slot, type StepLog } from './campaign-types';
import { LedgerModel, RES, type Amounts } from './ledger-model';
import { NODES, ORPHANS } from './fleet';
import type { Op, Shape, Step } from './ops';

export class Run {
  readonly model = new LedgerModel();
  readonly nodes: string[];
  readonly slots: Slot[][];
  private counter = 0;

  constructor(
    readonly ctx: Context,
    private readonly id: string,
    private readonly runNo: number,
    shape: Shape,
  ) {
    this.nodes = NODES.map((_, i) => `${id}-n${i}`);
    this.slots = Array.from({ length: shape.workers }, () =>
      Array.from({ length: shape.slots }, () => ({ sent: new Map() })),
    );
  }

  count(outcome: string): void {
    this.ctx.totals.outcomes[outcome] = (this.ctx.totals.outcomes[outcome] ?? 0) + 1;
  }

  uuid(): string {
    const n = ++this.counter;
    return `${this.runNo.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
  }

  /** A new migration's id; it shares its counter with the UUIDs. */
  migrationId(): string {
    return `${this.id}-m${++this.counter}`;
  }

  /** One request as a client sends it: answered 5xx, it is sent again as it was (up to 12 times). */
  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Sent> {
    const start = performance.now();
    const { containers, random, chaos, totals } = this.ctx;
    const sender = { containers, random, chaos, onSend: () => totals.requests++, onResend: () => totals.retried5xx++ };
    const { reply, attempts } = await sendAsClient(sender, method, path, body, headers);
    return { reply, attempts, start, end: performance.now() };
  }

  expect(sent: Sent, status: number | number[], what: string, error?: string): void {
    const ok =
      (Array.isArray(status) ? status : [status]).includes(sent.reply.status) &&
      (error === undefined || sent.reply.body?.error === error);
    if (!ok) {
      throw new Violation(
        `${what}: expected ${String(status)}${error ? ` ${error}` : ''}, got ${sent.reply.status} ${JSON.stringify(sent.reply.body)}`,
      );
    }
  }

  /**
   * An admitted claim's answer: it must hold what was asked, its devices must meet the request, and the step's
   * log keeps them. Returns the devices chosen.
   */
  admit(entry: ClaimLog, got: Record<string, unknown>, verb: 'recorded' | 'holds'): string[] {
    if (canon({ memoryMb: got.memoryMb, diskGb: got.diskGb, vcpus: got.vcpus }) !== canon(entry.requested)) {
      throw new Violation(`${entry.what} ${verb} ${canon(got)} for ${canon(entry.requested)}`);
    }
    const chosen = (got.pciDevices ?? []) as string[];
    this.model.checkChosen(entry.node, entry.pci, chosen);
    entry.ok = true;
    entry.chosen = chosen;
    return chosen;
  }

  /** Applies an answered request to the model, keeping what the step's soundness checks need. */
  apply(sent: Sent, log: StepLog | undefined, change: () => void): void {
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
    await check(this, undefined);
  }

  async step(step: Step): Promise<void> {
    this.ctx.totals.steps++;
    if (step.kind === 'inventory') return this.inventory(step);
    if (step.kind === 'retire') return retire(this, step);
    if (step.kind === 'orphans') return agentAudit(this, this.nodes[step.node] as string, ORPHANS[step.variant] ?? []);
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
    sound(this, log);
    await check(this, log);
  }

  private async inventory(step: Extract<Step, { kind: 'inventory' }>): Promise<void> {
    const node = this.nodes[step.node] as string;
    const variant = NODES[step.node]?.[step.variant];
    if (!variant) return;
    this.ctx.totals.ops++;
    const sent = await this.call('PUT', `/nodes/${node}`, { ...variant.inventory, pciDevices: variant.devices });
    this.expect(sent, 200, `new inventory for ${node}`);
    this.count('inventory');
    this.apply(sent, undefined, () => this.model.putNode(node, variant.inventory, variant.devices));
    await check(this, undefined);
  }

  private async run(w: number, op: Op, log: StepLog): Promise<void> {
    if (op.kind === 'audit') return audit(this, this.nodes[op.node] as string);
    const slot = this.slots[w]?.[op.slot];
    if (!slot) return;
    const tracked = slot.uuid ? this.model.instances.get(slot.uuid) : undefined;
    if (slot.uuid) log.instances.add(slot.uuid);
    if (slot.migration) log.migrations.add(slot.migration);
    switch (op.kind) {
      case 'claim':
        if (tracked && slot.claim) return claimAgain(this, slot, tracked.nodeId);
        if (slot.claim && slot.uuid && this.model.repeatsRelease(slot.uuid, slot.claim.node))
          await claimReleased(this, slot);
        return claim(this, slot, op, log);
      case 'patch':
        return patch(this, slot, tracked, op, log);
      case 'release':
        return release(this, slot, tracked, log);
      case 'move':
        if (!tracked) return;
        return move(this, slot, tracked.uuid, op, log);
      case 'status':
        return status(this, slot, op.status, op.sequence, log);
      case 'queue':
        return queue(this, slot, op, log);
      case 'drop':
        return drop(this, slot, op, log);
    }
  }
}

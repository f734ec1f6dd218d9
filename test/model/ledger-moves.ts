// The moves of the ledger's reference model (docs/moves.md): a move's claim, the statuses each lifecycle
// takes and in what order, where the instance record and the holds are in each phase (rule M7), and a
// hold dropped by hand. It works on the model's own instance and migration records.
import type { PciModel } from './ledger-pci';
import {
  ModelError,
  RES,
  usage,
  type Amounts,
  type Decision,
  type Instance,
  type Migration,
  type MoveType,
} from './ledger-types';

// A live migration's own steps sit among the claimed phase's ranks (0 to 3): no lifecycle has both kinds.
const RANK: Record<string, number> = {
  accepted: 0,
  queued: 0.3,
  preparing: 0.6,
  running: 2,
  completed: 6,
  'pre-migrating': 1,
  migrating: 2,
  'post-migrating': 3,
  finished: 4,
  confirming: 5,
  reverting: 5,
  confirmed: 6,
  reverted: 6,
  error: 6,
  failed: 6,
  cancelled: 6,
  done: 6,
};
const COMMON = ['accepted', 'pre-migrating', 'migrating', 'post-migrating', 'error', 'failed', 'cancelled'];
const LIFECYCLE: Record<MoveType, Set<string>> = {
  resize: new Set([...COMMON, 'finished', 'confirming', 'reverting', 'confirmed', 'reverted']),
  migration: new Set([...COMMON, 'finished', 'confirming', 'reverting', 'confirmed', 'reverted']),
  evacuation: new Set([...COMMON, 'done']),
  'live-migration': new Set([
    'accepted',
    'queued',
    'preparing',
    'running',
    'post-migrating',
    'completed',
    'error',
    'failed',
    'cancelled',
  ]),
};

const finishedPhase = (s: string) => RANK[s] === 4 || RANK[s] === 5;
const phase = (s: string) => ((RANK[s] ?? 0) <= 3 ? 'claimed' : finishedPhase(s) ? 'finished' : 'final');

/** Where a size of a move can be: in the instance record on a node, or in one of the move's holds. */
type Place = { node: string; what: 'instance' | 'old' | 'new'; size: 'old' | 'new' };
const key = (p: Place) => `${p.node}|${p.what}|${p.size}`;

const placesOf = (m: Migration): Record<'onSrc' | 'onDst' | 'oldHold' | 'newHold', Place> => ({
  onSrc: { node: m.src, what: 'instance', size: 'old' },
  onDst: { node: m.dst, what: 'instance', size: 'new' },
  oldHold: { node: m.src, what: 'old', size: 'old' },
  newHold: { node: m.dst, what: 'new', size: 'new' },
});

/** Where the sizes are once `status` applies, the instance record counted as present. */
function targetOf(m: Migration, status: string): Place[] {
  const { onSrc, onDst, oldHold, newHold } = placesOf(m);
  if (RANK[status] !== undefined && RANK[status] <= 3) return [onSrc, newHold];
  if (finishedPhase(status)) return [oldHold, onDst];
  if (status === 'confirmed' || status === 'done' || status === 'completed') return [onDst];
  if (status === 'reverted') return [onSrc];
  return [finishedPhase(m.status) ? onDst : onSrc];
}

/** Where the sizes are now: the instance record while it is still this move's, and the holds not dropped. */
function currentOf(m: Migration, i: Instance | undefined, id: string): Place[] {
  const { onSrc, onDst, oldHold, newHold } = placesOf(m);
  const current: Place[] = [];
  if (i && i.migrationId === id) current.push(finishedPhase(m.status) ? onDst : onSrc);
  if (m.holds.old) current.push(oldHold);
  if (m.holds.new) current.push(newHold);
  return current;
}

/** Whether some node would end up using more than before once `remove` goes and `create` appears. */
function gainsUsage(m: Migration, remove: Place[], create: Place[]): boolean {
  const net = new Map<string, Amounts>();
  for (const [places, sign] of [
    [remove, -1],
    [create, 1],
  ] as const) {
    for (const p of places) {
      const a = usage(m[p.size]);
      const n = net.get(p.node) ?? { memoryMb: 0, diskGb: 0, vcpus: 0 };
      for (const r of RES) n[r] += sign * a[r];
      net.set(p.node, n);
    }
  }
  return [...net.values()].some((n) => RES.some((r) => n[r] > 0));
}

function advance(m: Migration, status: string, sequence: number | undefined): Decision {
  m.status = status;
  m.sequence = Math.max(m.sequence, sequence ?? 0);
  return 'apply';
}

export class MoveModel {
  constructor(
    private readonly instances: ReadonlyMap<string, Instance>,
    private readonly migrations: Map<string, Migration>,
    private readonly pci: Pick<PciModel, 'hold' | 'free'>,
  ) {}

  moveClaim(m: Omit<Migration, 'status' | 'sequence' | 'holds' | 'old'>): void {
    const i = this.instances.get(m.uuid);
    if (!i || i.migrationId) throw new ModelError(`model: ${m.uuid} cannot move`);
    this.pci.hold(m.dst, m.new.devices, m.uuid);
    this.migrations.set(m.id, {
      ...m,
      old: i.size,
      // A live migration's claim leaves it accepted (rule L1).
      status: m.moveType === 'live-migration' ? 'accepted' : 'pre-migrating',
      sequence: 0,
      holds: { old: false, new: true },
    });
    i.migrationId = m.id;
  }

  /** Whether a status change applies, is ignored or is refused, before looking at the holds. */
  decide(id: string, status: string, sequence?: number): Decision {
    const m = this.migrations.get(id);
    if (!m) throw new ModelError(`model: no migration ${id}`);
    if (!LIFECYCLE[m.moveType].has(status)) return 'invalid';
    if (sequence !== undefined && sequence <= m.sequence) return 'ignore';
    if (RANK[m.status] === 6) return 'ignore';
    if (
      (m.status === 'reverting' && (status === 'confirming' || status === 'confirmed')) ||
      (m.status === 'confirming' && (status === 'reverting' || status === 'reverted'))
    )
      return 'invalid';
    if ((RANK[status] ?? 0) <= (RANK[m.status] ?? 0)) return 'ignore';
    return 'apply';
  }

  /**
   * Applies a status (docs/moves.md, rule M7: who holds what). Returns what the service must answer: applied,
   * ignored, or refused (409) when the lifecycle lacks it or a hold it needs was dropped.
   */
  status(id: string, status: string, sequence?: number): Decision {
    const decision = this.decide(id, status, sequence);
    if (decision !== 'apply') return decision;
    const m = this.migrations.get(id) as Migration;
    const i = this.instances.get(m.uuid);
    // Within a phase nothing changes hands, so only the status moves on, whatever holds were dropped.
    if (phase(status) !== 'final' && phase(status) === phase(m.status)) return advance(m, status, sequence);
    const current = currentOf(m, i, id);
    const target = targetOf(m, status).filter((p) => i || p.what !== 'instance');
    const remove = current.filter((p) => !target.some((t) => key(t) === key(p)));
    const create = target.filter((t) => !current.some((p) => key(p) === key(t)));
    // No node may gain usage from a status change: what appears replaces something of the same size there.
    if (gainsUsage(m, remove, create)) return 'invalid';

    // Devices of a side that goes for good are freed; a side that only trades places keeps them.
    const stays = new Set(create.map((p) => `${p.node}|${p.size}`));
    for (const p of remove) if (!stays.has(`${p.node}|${p.size}`)) this.pci.free(p.node, m[p.size].devices, m.uuid);
    m.holds = { old: target.some((t) => t.what === 'old'), new: target.some((t) => t.what === 'new') };
    if (i) {
      const at = target.find((t) => t.what === 'instance');
      if (at) {
        i.nodeId = at.node;
        i.size = m[at.size];
      }
      if (RANK[status] === 6) delete i.migrationId;
    }
    return advance(m, status, sequence);
  }

  /** drop_move_claim: the hold goes, with its devices; the status stays. */
  dropHold(id: string, nodeId: string, role: 'old' | 'new'): void {
    const m = this.migrations.get(id);
    if (!m || !m.holds[role] || (role === 'old' ? m.src : m.dst) !== nodeId) return;
    m.holds[role] = false;
    const stillHeld = (role === 'old' ? m.new : m.old).devices;
    this.pci.free(
      nodeId,
      m[role].devices.filter((a) => !stillHeld.includes(a)),
      m.uuid,
    );
  }
}

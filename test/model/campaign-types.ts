// What the campaign's run keeps and passes around: its worker slots, the step's log for the soundness checks,
// the answered requests, and the context every run of a campaign shares.
import type { Runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import type { Reply } from '../support/api';
import type { Chaos } from '../support/chaos';
import type { Totals } from './campaign';
import type { Amounts, PciRequest, Res } from './ledger-model';

/** What the model proved wrong. Everything else thrown is a defect of the campaign itself. */
export class Violation extends Error {}

/** JSON with sorted keys and undefined left out, for deep comparisons with a readable difference. */
export function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canon(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export interface Slot {
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

export interface ClaimLog {
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

export interface StepLog {
  usedBefore: Map<string, Amounts>;
  heldBefore: Map<string, Set<string>>;
  /** Per node, everything given back during the step (an upper bound of how far usage fell). */
  freed: Map<string, Amounts>;
  claims: ClaimLog[];
  migrations: Set<string>;
  instances: Set<string>;
}

export interface Sent {
  reply: Reply;
  attempts: number;
  start: number;
  end: number;
}

export interface Context {
  store: Store;
  /** The containers HTTP requests go to (see CampaignConfig.containers). */
  containers: Runtime[];
  checker: Store;
  chaos: Chaos;
  totals: Totals;
  random: () => number;
}

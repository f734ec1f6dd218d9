// A worker's instance operations: its claim (and the same claim sent again, late or after a release), its state
// changes and its release, each answered request judged and applied to the model.
import { NO_CHAOS } from '../support/chaos';
import type { Run } from './campaign-run';
import { Violation, type ClaimLog, type Slot, type StepLog } from './campaign-types';
import { LedgerModel, limitsOf, releasing, usage, type Instance, type Size } from './ledger-model';
import { CHANGES, FLAVORS, NO_OVERHEAD, NUMA_FLAVORS, NUMA_NODE, OVERHEAD, PCI_REQUESTS, STATES } from './fleet';
import type { Op } from './ops';

/** The refusal of a NUMA fit alone (no scalar reason before it): the model does not fit cells, so it accepts it. */
const NUMA_REFUSAL =
  'Insufficient compute resources: Requested instance NUMA topology cannot fit the given host NUMA topology.';

type ClaimOp = Extract<Op, { kind: 'claim' }>;

/** The claim's request, as the op describes it on the node it names. */
function claimRequest(run: Run, op: ClaimOp) {
  const node = run.nodes[op.node] as string;
  const uuid = run.uuid();
  // NUMA requests go to the NUMA node only, without devices (whose cell affinity the model does not follow).
  const numa = op.node === NUMA_NODE ? NUMA_FLAVORS[op.numa] : undefined;
  const flavor = numa ?? FLAVORS[op.flavor] ?? (FLAVORS[0] as Size['flavor']);
  const state = STATES[op.state] ?? (STATES[0] as (typeof STATES)[number]);
  const pci = op.pci >= 0 && !numa ? (PCI_REQUESTS[op.pci] ?? []) : [];
  const overhead = op.overhead ? OVERHEAD : NO_OVERHEAD;
  const inventory = run.model.node(node).inventory;
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
  return { node, uuid, numa, state, pci, inventory, limits, body, size };
}

export async function claim(run: Run, slot: Slot, op: ClaimOp, log: StepLog): Promise<void> {
  const { node, uuid, numa, state, pci, inventory, limits, body, size } = claimRequest(run, op);
  const requested = usage(size);
  run.ctx.totals.ops++;
  const sent = await run.call('POST', `/nodes/${node}/instances`, body, { prefer: 'return=minimal' });
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
    return run.count(entry.numaRefused ? 'claim-refused-numa' : 'claim-refused');
  }
  // A retry of a claim that committed before its Lambda died answers 200 with that claim.
  run.expect(sent, sent.attempts > 1 ? [200, 201] : 201, entry.what);
  const chosen = run.admit(entry, sent.reply.body, 'recorded');
  slot.claim = { node, body };
  run.count(pci.length ? 'claim-pci' : numa ? 'claim-numa' : 'claim');
  run.apply(sent, log, () => run.model.claim(node, uuid, { ...size, devices: chosen }, state));
}

/** The same claim again: 200 and nothing changes while the instance is on that node, else a conflict. */
export async function claimAgain(run: Run, slot: Slot, host: string): Promise<void> {
  const claim = slot.claim as NonNullable<Slot['claim']>;
  run.ctx.totals.ops++;
  const sent = await run.call('POST', `/nodes/${claim.node}/instances`, claim.body, { prefer: 'return=minimal' });
  // Under injected 500s the store cannot tell its own earlier write from this one's and answers 201.
  if (host === claim.node)
    run.expect(sent, run.ctx.chaos === NO_CHAOS ? 200 : [200, 201], `the claim of ${slot.uuid} sent again`);
  else run.expect(sent, 409, `the claim of ${slot.uuid} sent again after it moved`, 'InstanceConflict');
  run.count('claim-again');
}

/** A released claim sent again, late: refused on its node while the window lasts (rule O5), nothing changes. */
export async function claimReleased(run: Run, slot: Slot): Promise<void> {
  const claim = slot.claim as NonNullable<Slot['claim']>;
  const uuid = slot.uuid as string;
  run.ctx.totals.ops++;
  const sent = await run.call('POST', `/nodes/${claim.node}/instances`, claim.body, { prefer: 'return=minimal' });
  run.expect(sent, 409, `the released claim of ${uuid} sent again`, 'InstanceConflict');
  run.count('claim-released-again');
}

export async function patch(
  run: Run,
  slot: Slot,
  tracked: Instance | undefined,
  op: Extract<Op, { kind: 'patch' }>,
  log: StepLog,
): Promise<void> {
  if (!slot.uuid) return;
  const change = CHANGES[op.change] ?? {};
  run.ctx.totals.ops++;
  const sent = await run.call('PATCH', `/nodes/${tracked?.nodeId ?? run.nodes[0]}/instances/${slot.uuid}`, change);
  if (!tracked) {
    run.count('patch-untracked');
    return run.expect(sent, 404, 'a state change of an instance no longer tracked', 'InstanceNotFound');
  }
  const released = releasing({ ...tracked.state, ...change });
  // Only a client's own retry may find its release already done.
  const doneBefore = released && sent.attempts > 1 && sent.reply.status === 404;
  if (!doneBefore) {
    run.expect(sent, 200, `state change ${JSON.stringify(change)} of ${slot.uuid}`);
    if (sent.reply.body.tracked !== !released)
      throw new Violation(`state change answered tracked=${sent.reply.body.tracked}`);
  }
  if (tracked.migrationId) log.migrations.add(tracked.migrationId);
  run.count(released ? 'patch-release' : 'patch');
  return run.apply(sent, log, () => void run.model.change(tracked.uuid, change));
}

export async function release(run: Run, slot: Slot, tracked: Instance | undefined, log: StepLog): Promise<void> {
  if (!slot.uuid) return;
  run.ctx.totals.ops++;
  const sent = await run.call('DELETE', `/nodes/${tracked?.nodeId ?? run.nodes[0]}/instances/${slot.uuid}`);
  run.expect(sent, 204, `release of ${slot.uuid}`);
  if (tracked?.migrationId) log.migrations.add(tracked.migrationId);
  run.count(tracked ? (tracked.migrationId ? 'release-moving' : 'release') : 'release-untracked');
  return run.apply(sent, log, () => run.model.release(slot.uuid as string));
}

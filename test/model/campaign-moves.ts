// A worker's moves: the move claim (refused while one is under way, onto its own node unless a resize, and for a
// live migration with a flavor's alias), a hold dropped by hand, and the migration's status updates, over HTTP
// and through the SQS consumer.
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { handler as queueHandler } from '../../functions/migration-status-queue';
import { lambdaContext, sqsRecord } from '../../local/events';
import type { Run } from './campaign-run';
import { canon, Violation, type ClaimLog, type Slot, type StepLog } from './campaign-types';
import {
  LedgerModel,
  usage,
  type Instance,
  type Migration,
  type MoveType,
  type PciRequest,
  type Size,
} from './ledger-model';
import { FLAVORS, NUMA_NODE, OVERHEAD, PCI_REQUESTS } from './fleet';
import type { Op } from './ops';

/** Nova's refusal of a live migration that carries a flavor's PCI alias (its reason's dot, then the refusal's). */
const LIVE_ALIAS_REFUSAL =
  'Insufficient compute resources: Non-VIF related PCI requests are not supported for live migration..';

/** A move claim as sent: its body, and the size it asks the destination for. */
interface MoveRequest {
  migrationId: string;
  uuid: string;
  dst: string;
  moveType: MoveType;
  pci: PciRequest[];
  body: object;
  size: Size;
}

export async function move(
  run: Run,
  slot: Slot,
  uuid: string,
  op: Extract<Op, { kind: 'move' }>,
  log: StepLog,
): Promise<void> {
  const instance = run.model.instances.get(uuid);
  if (!instance) return;
  // A NUMA guest moves only from the NUMA node (off it, a record keeps no cells to fit again from).
  const numa = instance.size.flavor.extraSpecs !== undefined;
  if (numa && instance.nodeId !== run.nodes[NUMA_NODE]) return;
  const dst = run.nodes[op.node] as string;
  const migrationId = run.migrationId();
  run.ctx.totals.ops++;
  if (instance.migrationId) return secondMove(run, migrationId, instance, dst);
  if (dst === instance.nodeId && op.moveType !== 'resize') await ontoOwnNode(run, migrationId, instance, op.moveType);
  const moveType = dst === instance.nodeId ? 'resize' : op.moveType;
  const newFlavor = moveType === 'resize' ? FLAVORS[op.flavor] : undefined;
  const overhead = op.overhead ? OVERHEAD : undefined;
  const pci = op.pci >= 0 && !numa ? (PCI_REQUESTS[op.pci] ?? []) : [];
  if (moveType === 'live-migration' && pci.some((r) => r.aliasName !== undefined))
    return liveAliasRefused(run, migrationId, uuid, instance.nodeId, dst, pci);
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
  return moveClaim(run, slot, instance, { migrationId, uuid, dst, moveType, pci, body, size }, log);
}

/** A second move while the first is under way: refused, nothing written. */
async function secondMove(run: Run, migrationId: string, instance: Instance, dst: string): Promise<void> {
  const sent = await run.call('POST', `/nodes/${dst}/move-claims`, {
    migrationId,
    instanceUuid: instance.uuid,
    moveType: 'migration',
    sourceNodeId: instance.nodeId,
  });
  // Onto its own node the request alone is refused, before the instance is read (rule M6).
  const error = dst === instance.nodeId ? 'InvalidMove' : 'InstanceConflict';
  run.expect(sent, 409, `a second move of ${instance.uuid}`, error);
  return run.count('move-while-moving');
}

/** Only a resize may stay on its node (rule M6): refused, nothing written; then the same-host resize. */
async function ontoOwnNode(run: Run, migrationId: string, instance: Instance, moveType: MoveType): Promise<void> {
  const refused = await run.call('POST', `/nodes/${instance.nodeId}/move-claims`, {
    migrationId,
    instanceUuid: instance.uuid,
    moveType,
    sourceNodeId: instance.nodeId,
  });
  run.expect(refused, 409, `a ${moveType} of ${instance.uuid} onto its own node`, 'InvalidMove');
  run.count('move-onto-own-node');
}

async function moveClaim(run: Run, slot: Slot, instance: Instance, request: MoveRequest, log: StepLog): Promise<void> {
  const { migrationId, uuid, dst, moveType, pci, body, size } = request;
  const requested = usage(size);
  const sent = await run.call('POST', `/nodes/${dst}/move-claims`, body, { prefer: 'return=minimal' });
  const inventory = run.model.node(dst).inventory;
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
  if (sent.reply.status === 409 && sent.reply.body?.error === 'InsufficientResources') return run.count('move-refused');
  run.expect(sent, sent.attempts > 1 ? [200, 201] : 201, entry.what);
  const chosen = run.admit(entry, sent.reply.body.claim, 'holds');
  slot.migration = migrationId;
  run.count(`move-${moveType}${dst === instance.nodeId ? '-same-host' : ''}`);
  run.apply(sent, log, () =>
    run.model.moveClaim({
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
async function liveAliasRefused(
  run: Run,
  migrationId: string,
  uuid: string,
  src: string,
  dst: string,
  pci: PciRequest[],
) {
  const body = { migrationId, instanceUuid: uuid, moveType: 'live-migration', sourceNodeId: src, pciRequests: pci };
  const sent = await run.call('POST', `/nodes/${dst}/move-claims`, body);
  run.expect(sent, 409, `a live migration of ${uuid} with an alias request`, 'InsufficientResources');
  if (sent.reply.body?.message !== LIVE_ALIAS_REFUSAL)
    throw new Violation(`the alias refusal of ${migrationId} says ${JSON.stringify(sent.reply.body?.message)}`);
  run.count('move-live-alias-refused');
}

export async function drop(run: Run, slot: Slot, op: Extract<Op, { kind: 'drop' }>, log: StepLog): Promise<void> {
  const m = slot.migration ? run.model.migrations.get(slot.migration) : undefined;
  if (!m) return;
  const node = op.role === 'new' ? m.dst : m.src;
  run.ctx.totals.ops++;
  const sent = await run.call('DELETE', `/nodes/${node}/move-claims/${m.id}?flavor=${op.role}`);
  run.expect(sent, 204, `drop of the ${op.role} hold of ${m.id}`);
  run.count('drop');
  return run.apply(sent, log, () => run.model.dropHold(m.id, node, op.role));
}

export async function status(
  run: Run,
  slot: Slot,
  status: string,
  mode: 'next' | 'stale' | 'none',
  log: StepLog,
): Promise<void> {
  const m = slot.migration ? run.model.migrations.get(slot.migration) : undefined;
  if (!m) return;
  let sequence: number | undefined;
  if (mode === 'next') {
    sequence = (slot.sent.get(m.id) ?? 0) + 1;
    slot.sent.set(m.id, sequence);
  } else if (mode === 'stale' && m.sequence > 0) sequence = m.sequence;
  run.ctx.totals.ops++;
  const sent = await run.call(
    'POST',
    `/migrations/${m.id}/status`,
    sequence === undefined ? { status } : { status, sequence },
  );
  const what = `status ${status} (sequence ${sequence}) of ${m.id}, ${m.moveType} ${m.src} → ${m.dst} at ${m.status}`;
  const decided: ReturnType<LedgerModel['status']>[] = [];
  run.apply(sent, log, () => decided.push(run.model.status(m.id, status, sequence)));
  const decision = decided[0] ?? 'ignore';
  run.count(`status-${decision}`);
  if (decision === 'invalid') return run.expect(sent, 409, what, 'InvalidTransition');
  run.expect(sent, 200, what);
  const got = sent.reply.body;
  if (got.applied === (decision === 'apply')) return;
  // The client sent it again after its Lambda died having committed it: to the service that is a repeat.
  // (A lost response inside one request is recognised by the store's own retry and answers applied.)
  if (decision === 'apply' && sent.attempts > 1 && got.status === status && got.sequence === m.sequence) {
    run.ctx.totals.appliedButReportedIgnored++;
    return;
  }
  throw new Violation(`${what}: answered applied=${got.applied}, the model says ${decision}`);
}

/** The batch of the migration's messages as SQS delivers it, numbered on from the last sequence sent. */
function queueBatch(run: Run, slot: Slot, m: Migration, op: Extract<Op, { kind: 'queue' }>) {
  const first = (slot.sent.get(m.id) ?? 0) + 1;
  const messages = op.statuses.map((status, k) => ({
    messageId: run.uuid(),
    body: JSON.stringify({ migrationId: m.id, status, sequence: first + k }),
    status,
    sequence: first + k,
  }));
  slot.sent.set(m.id, first + messages.length - 1);
  const delivered: { messageId: string; body: string }[] = op.reorder ? [...messages].reverse() : [...messages];
  if (op.duplicate && delivered[0]) delivered.push({ messageId: run.uuid(), body: delivered[0].body });
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
  return { delivered, records };
}

/** One batch through the consumer: the ids of the messages it reports failed. */
async function consume(run: Run, batch: SQSRecord[]): Promise<string[]> {
  run.ctx.totals.requests++;
  const response = (await run.ctx.chaos.request(() =>
    queueHandler({ Records: batch }, lambdaContext('migration-status-queue')),
  )) as SQSBatchResponse;
  return response.batchItemFailures.map((f) => f.itemIdentifier);
}

/**
 * Status updates through the SQS consumer: one batch of the migration's messages, in order or not, with
 * a duplicate and a redelivery of an old message. A refused one is rejected at once and the rest of its
 * group goes on (rule OP1); failed messages are delivered again, as SQS would, until none fails.
 */
export async function queue(run: Run, slot: Slot, op: Extract<Op, { kind: 'queue' }>, log: StepLog): Promise<void> {
  const m = slot.migration ? run.model.migrations.get(slot.migration) : undefined;
  if (!m) return;
  const { delivered, records } = queueBatch(run, slot, m, op);
  run.ctx.totals.ops++;
  const start = performance.now();
  let failed = await consume(run, records);
  const at = m.status;
  run.apply(
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
        const decision = run.model.status(migrationId, status, sequence);
        if (decision === 'apply') run.count('queue-status-apply');
        if (decision === 'invalid') run.count('queue-status-rejected');
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
    run.ctx.totals.redelivered += again.length;
    failed = await consume(run, again);
  }
  run.count('queue');
  if (failed.length > 0) {
    throw new Violation(
      `queue batch ${delivered.map((d) => d.body).join(' ')} for ${m.id} at ${at}: still failing ${canon(failed)}, the model expects none`,
    );
  }
}

import { TransactWriteCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import {
  byAddress,
  canonical,
  compareWithHypervisor,
  drift,
  nodeLimits,
  onGrid,
  orphanSet,
  pools,
  recount,
  RESOURCES,
  type Inventory,
  type NodeState,
  type Orphan,
  type PciDeviceSpec,
  type Stats,
} from '../domain';
import type { HostCellInventory } from '../domain/numa-types';
import { NodeNotFound, Unavailable } from '../errors';
import type { Store } from './client';
import { Expression } from './expression';
import {
  COLUMNS,
  DEVICE_PREFIX,
  deviceOf,
  HOLD_PREFIX,
  holdOf,
  INSTANCE_PREFIX,
  instanceRecordOf,
  inventoryOf,
  nodeKey,
  nodeStateOf,
  usedOf,
} from './items';
import { cancellation, sendOne, type NamedItem } from './commit';
import { getNode, putNode } from './nodes';
import { cellRepairs, recountCells, type CellDrift } from './numa-audit';
import { cellOf, isCellItem } from './numa-cells';
import { readNodePartition } from './query';
import { conditionFailed, type AuditOutcome } from './outcomes';
import { withRetry, type RetryContext } from './retry';

export interface AuditInput {
  inventory?: Inventory & { pciDevices?: PciDeviceSpec[]; numaTopology?: { cells: HostCellInventory[] } };
  /** What the hypervisor runs; without it, unknown and missing instances are not reported. */
  instances?: string[];
  /** The agent's report of orphans replaces the stored set; without it (the scheduled audit) the set stays. */
  orphans?: Orphan[];
}

export interface AuditResult {
  node: NodeState;
  drift: ReturnType<typeof drift>;
  unknownInstances: string[];
  missingInstances: string[];
  /** Whether the stored figures were wrong and got rewritten. */
  repaired: boolean;
  /** How many times a claim landed between the read and the write, so the audit read again. */
  retries: number;
  /** The NUMA cells that drifted and the pin problems found (rule NS6); absent on a node without cells. */
  numa?: { drift: CellDrift[]; problems: string[] };
}

const ATTEMPTS = 5;

const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

/** One look at the node: what its items say its figures should be, and whether they already are. */
async function recountNode(store: Store, nodeId: string, input: AuditInput) {
  const items = await readNodePartition(store, nodeId);
  const node = items.find((i) => i.sk === nodeKey(nodeId).sk);
  if (!node) throw new NodeNotFound(nodeId);
  const of = (prefix: string) => items.filter((i) => String(i.sk).startsWith(prefix));
  const instances = of(INSTANCE_PREFIX).map(instanceRecordOf);
  const holds = of(HOLD_PREFIX).map(holdOf);
  const devices = byAddress(of(DEVICE_PREFIX).map(deviceOf));
  const inventory = inventoryOf(node);
  const stored = (node.orphans as Record<string, number> | undefined) ?? {};
  const orphans = input.orphans ? orphanSet(input.orphans) : stored;
  const listed = Object.entries(orphans).map(([instanceUuid, memoryMb]) => ({ instanceUuid, memoryMb }));
  const r = recount(inventory, instances, holds, listed);
  const before = usedOf(node);
  const hypervisor = compareWithHypervisor(
    instances.map((i) => i.instanceUuid),
    input.instances,
  );
  const poolsNow = Object.fromEntries(pools(devices));
  const cellItems = items.filter(isCellItem);
  // The stats are the records' (rule S6), so there are none to repair.
  const state = { ...nodeStateOf(node, r.stats), ...(cellItems.length ? { numaCells: cellItems.map(cellOf) } : {}) };
  const cells = recountCells(items, [
    ...instances.map((i) => ({ who: i.instanceUuid, taken: i.numaTaken })),
    ...holds.map((h) => ({ who: `${h.instanceUuid} (move ${h.migrationId})`, taken: h.numaTaken })),
  ]);
  const exact =
    cells.drift.length === 0 &&
    RESOURCES.every((res) => before[res] === r.used[res]) &&
    Number(node.trackedCount ?? 0) === r.tracked &&
    Number(node.orphanMemoryMb ?? 0) === r.orphanMemoryMb &&
    same(stored, orphans) &&
    same(state.pciPools, poolsNow);
  // Exact but still carrying the stats map an item written before rule S6 has: the audit drops it (rule A2).
  const compact = exact && node.stats !== undefined;
  const numa = cellItems.length ? { drift: cells.drift, problems: cells.problems } : undefined;
  return { inventory, r, before, hypervisor, poolsNow, state, orphans, exact, compact, cells, numa };
}

/** The repair: the recounted figures, conditioned on the generation read (no claim or release since). */
function repairUpdate(store: Store, nodeId: string, look: Look): UpdateCommandInput {
  const { inventory, r, poolsNow, state, orphans } = look;
  const e = new Expression();
  const limits = nodeLimits(inventory);
  const set = RESOURCES.flatMap((res) => [
    `${e.name(COLUMNS[res].claimed)} = ${e.value(r.claimed[res])}`,
    `${e.name(COLUMNS[res].used)} = ${e.value(r.used[res])}`,
    `${e.name(COLUMNS[res].headroom)} = ${e.value(onGrid(limits[res]) - r.used[res])}`,
  ]);
  set.push(
    `${e.name('trackedCount')} = ${e.value(r.tracked)}`,
    `${e.name('orphanMemoryMb')} = ${e.value(r.orphanMemoryMb)}`,
    `${e.name('orphans')} = ${e.value(orphans)}`,
    `${e.name('pciPools')} = ${e.value(poolsNow)}`,
  );
  return {
    TableName: store.tableName,
    Key: nodeKey(nodeId),
    UpdateExpression: `SET ${set.join(', ')} REMOVE ${e.name('stats')} ADD ${e.name('generation')} ${e.value(1)}`,
    ConditionExpression: `${e.name('generation')} = ${e.value(state.generation)}`,
    ReturnValues: 'ALL_NEW',
    ...e.params(),
  };
}

/**
 * Recomputes a node's usage, counts and PCI pools from the items it tracks, and writes them only
 * if they differ, conditioned on the node's generation: if any claim or release landed between the read
 * and the write, the audit reads again (a few times, then 503). It never holds a claim up: claims do not
 * look at the generation.
 */
export async function auditNode(store: Store, nodeId: string, input: AuditInput = {}): Promise<AuditResult> {
  if (input.inventory) {
    const { pciDevices, numaTopology, ...inventory } = input.inventory;
    // The audit repairs a node; registering one is PUT /nodes/{id}'s.
    const numa = numaTopology?.cells ?? [];
    await putNode(store, nodeId, inventory, pciDevices ?? [], { registered: true, numa });
  }
  // A repair whose answer was lost may have committed: the recount after it would find nothing to repair
  // and answer drift 0, though this very request repaired it (rule A4).
  let unsure: Look | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const look = await recountNode(store, nodeId, input);
    if (unsure && leftBy(unsure, look)) return answer(unsure, look.state, !unsure.exact, attempt);
    if (look.exact && !look.compact) return answer(look, look.state, false, attempt);
    const outcome = await repair(
      store,
      nodeId,
      repairUpdate(store, nodeId, look),
      cellRepairs(store, nodeId, look.cells),
      look.r.stats,
    );
    switch (outcome.kind) {
      case 'committed':
        // Dropping a stored stats map is upkeep, not a repair: the figures were right.
        return answer(look, outcome.node, !look.exact, attempt);
      case 'recount':
        // A claim, release or inventory change landed since the read (or this repair did, unanswered): recount.
        unsure = outcome.ambiguous ? look : undefined;
        continue;
    }
  }
  throw new Unavailable(1);
}

type Look = Awaited<ReturnType<typeof recountNode>>;

/** Whether the node as read now is what the repair planned on `planned` wrote, nothing since. */
const leftBy = (planned: Look, now: Look) =>
  now.exact &&
  now.state.generation === planned.state.generation + 1 &&
  same(now.r.used, planned.r.used) &&
  now.r.tracked === planned.r.tracked &&
  same(now.orphans, planned.orphans);

const answer = (look: Look, node: NodeState, repaired: boolean, retries: number): AuditResult => ({
  node,
  drift: drift(look.before, look.r.used),
  ...look.hypervisor,
  repaired,
  retries,
  ...(look.numa ? { numa: look.numa } : {}),
});

/** The repair: the node's figures alone in one UpdateItem, or with drifted cells in one transaction. */
async function repair(
  store: Store,
  nodeId: string,
  input: UpdateCommandInput,
  cells: NamedItem[],
  stats: Stats,
): Promise<AuditOutcome> {
  // A transaction's Update takes no ReturnValues, so the node is read after it.
  const { ReturnValues: _all, UpdateExpression = '', ...rest } = input;
  const transaction = { TransactItems: [{ Update: { ...rest, UpdateExpression } }, ...cells.map((c) => c.item)] };
  const send = async () => {
    if (cells.length) await store.doc.send(new TransactWriteCommand(transaction));
    else return nodeStateOf((await store.doc.send(new UpdateCommand(input))).Attributes ?? {}, stats);
  };
  const refused = (error: unknown) =>
    cells.length ? cancellation(error)?.some((r) => r.Code === 'ConditionalCheckFailed') : conditionFailed(error);
  const sent = await withRetry(store, async (context: RetryContext<true>) => {
    try {
      return { kind: 'committed' as const, node: await sendOne(context, true, send) };
    } catch (error) {
      if (!refused(error)) throw error;
      // Refused after an attempt whose answer was lost: that attempt may be what moved the generation on.
      return { kind: 'recount' as const, ambiguous: context.intended.length > 0 };
    }
  });
  if (sent.kind === 'recount') return sent;
  return { kind: 'committed', node: sent.node ?? (await getNode(store, nodeId)) };
}

// The fleet summary (rule G12): what the candidates filter and weigh, one small item per node in S shard
// partitions (`FLEET#<shard>` / `NODE#<nodeId>`), so a node's change is one conditional PutItem or DeleteItem of
// ~150 bytes (1 write unit) and a whole view is S parallel Queries. Fed from the table's stream (applyChanges)
// and repaired from the node items (rebuildSummary), both through writes conditioned on the node's generation,
// which every node write bumps, after when the node was registered (a node deleted and registered again starts its
// generation over, rule G13): an older record, a redelivered batch or a repair racing the stream never puts an
// older figure back. A marker item says the summary is whole (a repair has run with this S); until it exists,
// readers read every node instead.
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { byNodeId, type NodeState, type PciPool } from '../domain';
import type { Store } from './client';
import { INVENTORY_FIELDS, nodeStateOf } from './items';
import { listNodes } from './node-pages';
import { conditionFailed } from './outcomes';
import { queryAll } from './query';
import { withRetry } from './retry';

/** ~1,000 nodes a partition at 100,000 nodes; FLEET_SHARDS overrides it (a change needs a repair before reads). */
export const DEFAULT_FLEET_SHARDS = 100;
export const fleetShards = () => Number(process.env.FLEET_SHARDS || DEFAULT_FLEET_SHARDS);
export const SUMMARY_PREFIX = 'FLEET#';
const ENTRY_PREFIX = 'NODE#';
export const entryKey = (nodeId: string) => ({
  pk: `${SUMMARY_PREFIX}${shardOf(nodeId)}`,
  sk: `${ENTRY_PREFIX}${nodeId}`,
});
/** Written by a repair that has made the summary whole: with how many shards, and when. */
export const markerKey = { pk: `${SUMMARY_PREFIX}WHOLE`, sk: 'FLEET' } as const;
/** Summary writes in flight at once: a batch of 100 changes is ~7 rounds of 10 ms. */
const WRITES_AT_ONCE = 16;

/** FNV-1a: stable across runtimes and releases, unlike anything seeded. */
export function shardOf(nodeId: string, shards = fleetShards()): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < nodeId.length; i++) h = Math.imul(h ^ nodeId.charCodeAt(i), 0x01000193) >>> 0;
  return h % shards;
}

/**
 * A node's entry: when the node was registered and its generation, which order its entries (rule G13), beside one
 * JSON string (the most compact DynamoDB value for many numbers).
 */
export interface SummaryEntry {
  r: number;
  g: number;
  d: string;
}

type Packed = [number[], number[], string[], string[], [string, number, number][]];

export function entryOf(node: NodeState): SummaryEntry {
  const inv = INVENTORY_FIELDS.map((f) => node[f]);
  const used = [node.used.memoryMb, node.used.diskGb, node.used.vcpus];
  const pools = Object.entries(node.pciPools).map(([k, p]): [string, number, number] => [k, p.count, p.free]);
  const packed: Packed = [inv, used, node.traits ?? [], node.aggregates ?? [], pools];
  return { r: node.registeredAt ?? 0, g: node.generation, d: JSON.stringify(packed) };
}

export function nodeOfEntry(nodeId: string, entry: SummaryEntry): NodeState {
  const [inv, used, traits, aggregates, pools] = JSON.parse(entry.d) as Packed;
  const node = {
    nodeId,
    generation: Number(entry.g),
    ...(entry.r ? { registeredAt: entry.r } : {}),
    stats: {},
    traits,
    aggregates,
  } as unknown as NodeState;
  INVENTORY_FIELDS.forEach((f, i) => (node[f] = inv[i]!));
  node.used = { memoryMb: used[0]!, diskGb: used[1]!, vcpus: used[2]! };
  node.pciPools = {};
  for (const [key, count, free] of pools) {
    const [vendorId, productId, numaNode, deviceType, physicalNetwork] = JSON.parse(key) as unknown[];
    node.pciPools[key] = {
      ...({ vendorId, productId, numaNode, deviceType } as Omit<PciPool, 'count' | 'free'>),
      ...(physicalNetwork === null ? {} : { physicalNetwork: physicalNetwork as string }),
      count,
      free,
    };
  }
  return node;
}

/** Where an entry stands among a node's entries: when the node was registered, then its generation. */
type Stamp = Pick<SummaryEntry, 'r' | 'g'>;

/** One node's change: its entry now, or gone (with the stamp it had, when the record says; exact for a repair). */
export type SummaryChange =
  { nodeId: string; entry: SummaryEntry } | { nodeId: string; removed: true; stamp?: Stamp; onlyIf?: Stamp };

/**
 * The condition that the stored entry is no newer than `s`: the same stamp again is a redelivery, allowed (it
 * writes what is there); a repair's removal is exact. An entry without `r` predates it and is always older.
 */
function noNewerThan(s: Stamp, exact: boolean) {
  const values = { ':r': s.r, ':g': s.g };
  if (exact)
    return { ConditionExpression: 'g = :g AND (r = :r OR attribute_not_exists(r))', ExpressionAttributeValues: values };
  const ConditionExpression = 'attribute_not_exists(g) OR attribute_not_exists(r) OR r < :r OR (r = :r AND g <= :g)';
  return { ConditionExpression, ExpressionAttributeValues: values };
}

/** One change as one conditional write, dropped if the stored entry is newer (the change is then stale). */
async function writeChange(store: Store, c: SummaryChange): Promise<void> {
  const [Key, TableName] = [entryKey(c.nodeId), store.tableName];
  const stamp = 'entry' in c ? c.entry : (c.onlyIf ?? c.stamp);
  const guard = stamp ? noNewerThan(stamp, !('entry' in c) && c.onlyIf !== undefined) : {};
  try {
    await withRetry(store, () =>
      'entry' in c
        ? store.doc.send(new PutCommand({ TableName, Item: { ...Key, ...c.entry }, ...guard }))
        : store.doc.send(new DeleteCommand({ TableName, Key, ...guard })),
    );
  } catch (error) {
    if (!conditionFailed(error)) throw error;
  }
}

/** Writes the changes (the last per node: records come in stream order per item); answers the writes sent. */
export async function applyChanges(store: Store, changes: SummaryChange[]): Promise<number> {
  const last = [...new Map(changes.map((c) => [c.nodeId, c])).values()];
  let next = 0;
  const worker = async () => {
    while (next < last.length) await writeChange(store, last[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(WRITES_AT_ONCE, last.length) }, worker));
  return last.length;
}

/** Every entry of one shard partition, by node. */
async function readShard(store: Store, shard: number, consistent: boolean): Promise<Map<string, SummaryEntry>> {
  const items = await queryAll(store, {
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': `${SUMMARY_PREFIX}${shard}` },
    ConsistentRead: consistent,
  });
  const entry = (i: Record<string, unknown>) => ({ r: Number(i.r ?? 0), g: Number(i.g), d: String(i.d) });
  return new Map(items.map((i) => [String(i.sk).slice(ENTRY_PREFIX.length), entry(i)]));
}

async function readAllShards(store: Store, consistent: boolean): Promise<Map<string, SummaryEntry>> {
  const shards = await Promise.all(Array.from({ length: fleetShards() }, (_, s) => readShard(store, s, consistent)));
  return new Map(shards.flatMap((m) => [...m]));
}

/**
 * The whole summary (its marker, then S Queries at once, eventually consistent); undefined while no repair has
 * made it whole with the current S, so that a reader then reads every node instead.
 */
export async function readSummary(store: Store): Promise<NodeState[] | undefined> {
  const marker = await withRetry(store, () =>
    store.doc.send(new GetCommand({ TableName: store.tableName, Key: markerKey })),
  );
  if (Number(marker.Item?.shards) !== fleetShards()) return undefined;
  const nodes = [...(await readAllShards(store, false))].map(([id, e]) => nodeOfEntry(id, e));
  return nodes.sort(byNodeId);
}

/**
 * Seeding and repair: the summary made to hold every node item as it is, writing only what differs, then the
 * marker. The entries are read before the node scan, so an entry whose node the scan did not find is removed only
 * if still the same generation (a node made since keeps its entry). Answers the writes it sent.
 */
export async function rebuildSummary(store: Store): Promise<number> {
  const before = await readAllShards(store, true);
  const nodes = await listNodes(store);
  const seen = new Set(nodes.map((n) => n.nodeId));
  const changes: SummaryChange[] = [];
  for (const n of nodes) {
    const entry = entryOf(n);
    const stored = before.get(n.nodeId);
    if (stored?.r !== entry.r || stored.g !== entry.g || stored.d !== entry.d)
      changes.push({ nodeId: n.nodeId, entry });
  }
  for (const [nodeId, e] of before) if (!seen.has(nodeId)) changes.push({ nodeId, removed: true, onlyIf: e });
  const writes = await applyChanges(store, changes);
  const marker = { ...markerKey, shards: fleetShards(), at: new Date().toISOString() };
  await withRetry(store, () => store.doc.send(new PutCommand({ TableName: store.tableName, Item: marker })));
  return writes + 1;
}

/** A node item's change as the stream shows it (unmarshalled images); anything but a node item is none. */
export function changeOf(
  newImage: Record<string, unknown> | undefined,
  oldImage: Record<string, unknown> | undefined,
  keys: Record<string, unknown>,
): SummaryChange | undefined {
  const pk = String(keys.pk ?? '');
  if (keys.sk !== 'NODE' || !pk.startsWith('NODE#')) return undefined;
  const nodeId = pk.slice('NODE#'.length);
  if (newImage) return { nodeId, entry: entryOf(nodeStateOf(newImage)) };
  if (!oldImage) return { nodeId, removed: true };
  return {
    nodeId,
    removed: true,
    stamp: { r: Number(oldImage.registeredAt ?? 0), g: Number(oldImage.generation ?? 0) },
  };
}

/** A stream record as Lambda's event and the streams API (the local feed) both carry it: images in DynamoDB JSON. */
export interface StreamRecord {
  dynamodb?: { Keys?: unknown; NewImage?: unknown; OldImage?: unknown };
}

type Value = Record<string, unknown>;
// The streams client reads an empty map ({ M: {} } on the wire) back as {}, which unmarshall refuses.
const repaired = (v: Value): Value => {
  if (Object.keys(v).length === 0) return { M: {} };
  if (v.M)
    return { M: Object.fromEntries(Object.entries(v.M as Record<string, Value>).map(([k, x]) => [k, repaired(x)])) };
  if (v.L) return { L: (v.L as Value[]).map(repaired) };
  return v;
};
const plain = (image: unknown) =>
  image ? unmarshall(repaired({ M: image as Value }).M as Parameters<typeof unmarshall>[0]) : undefined;

/** The node-item changes of a batch of stream records, in order; other items' records are none. */
export function changesOfRecords(records: readonly StreamRecord[]): SummaryChange[] {
  const changes: SummaryChange[] = [];
  for (const { dynamodb: d } of records) {
    const change = d?.Keys ? changeOf(plain(d.NewImage), plain(d.OldImage), plain(d.Keys)!) : undefined;
    if (change) changes.push(change);
  }
  return changes;
}

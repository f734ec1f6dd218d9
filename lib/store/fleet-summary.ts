// The fleet summary (issue 16 item 5): what the candidates filter and weigh, per node, in S shard items
// `FLEET#<shard>`, one top-level attribute per node, so a change of one node is a SET or REMOVE of one attribute
// and a whole view is one BatchGetItem of S items. Fed from the table's stream (foldChanges) and rebuilt from the
// node items (rebuildSummary), both through the same write conditioned on the node's generation, which every node
// write bumps: an older record, a redelivered batch or a rebuild racing the stream never puts an older figure back.
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { NodeState, PciPool } from '../domain';
import type { Store } from './client';
import { Expression } from './expression';
import { INVENTORY_FIELDS, nodeStateOf } from './items';
import { batchGet, listNodes } from './node-pages';
import { withRetry } from './retry';

/** ~1,000 nodes an item at 100,000 nodes; FLEET_SHARDS overrides it (a change needs a rebuild). */
export const DEFAULT_FLEET_SHARDS = 100;
export const fleetShards = () => Number(process.env.FLEET_SHARDS || DEFAULT_FLEET_SHARDS);
export const summaryKey = (shard: number) => ({ pk: `FLEET#${shard}`, sk: 'FLEET' });
export const SUMMARY_PREFIX = 'FLEET#';
/** UpdateExpression and ConditionExpression are 4 KB at most each: a shard's changes go in chunks of this many. */
const NODES_PER_UPDATE = 40;
const RESERVED = new Set(['pk', 'sk']);

/** FNV-1a: stable across runtimes and releases, unlike anything seeded. */
export function shardOf(nodeId: string, shards = fleetShards()): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < nodeId.length; i++) h = Math.imul(h ^ nodeId.charCodeAt(i), 0x01000193) >>> 0;
  return h % shards;
}

/** A node's entry: its generation beside one JSON string (the most compact DynamoDB value for many numbers). */
export interface SummaryEntry {
  g: number;
  d: string;
}

type Packed = [number[], number[], string[], string[], [string, number, number][]];

export function entryOf(node: NodeState): SummaryEntry {
  const inv = INVENTORY_FIELDS.map((f) => node[f]);
  const used = [node.used.memoryMb, node.used.diskGb, node.used.vcpus];
  const pools = Object.entries(node.pciPools).map(([k, p]): [string, number, number] => [k, p.count, p.free]);
  const packed: Packed = [inv, used, node.traits ?? [], node.aggregates ?? [], pools];
  return { g: node.generation, d: JSON.stringify(packed) };
}

export function nodeOfEntry(nodeId: string, entry: SummaryEntry): NodeState {
  const [inv, used, traits, aggregates, pools] = JSON.parse(entry.d) as Packed;
  const node = { nodeId, generation: Number(entry.g), stats: {}, traits, aggregates } as unknown as NodeState;
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

/** One node's change: its entry now, or gone (with the generation it had, when the record says). */
export type SummaryChange =
  { nodeId: string; entry: SummaryEntry } | { nodeId: string; removed: true; generation?: number; onlyIf?: number };

/** Writes the changes, one UpdateItem per touched shard (per chunk); returns how many UpdateItems it sent. */
export async function applyChanges(store: Store, changes: SummaryChange[]): Promise<number> {
  // The last change of a node wins: records come in stream order per item.
  const last = new Map(changes.map((c) => [c.nodeId, c]));
  const byShard = new Map<number, SummaryChange[]>();
  for (const c of last.values()) {
    if (RESERVED.has(c.nodeId)) continue;
    const s = shardOf(c.nodeId);
    byShard.set(s, [...(byShard.get(s) ?? []), c]);
  }
  let writes = 0;
  for (const [shard, list] of byShard)
    for (let i = 0; i < list.length; i += NODES_PER_UPDATE)
      writes += await writeShard(store, shard, list.slice(i, i + NODES_PER_UPDATE));
  return writes;
}

function expressionOf(changes: SummaryChange[]) {
  const e = new Expression();
  const [set, remove, conditions]: [string[], string[], string[]] = [[], [], []];
  for (const c of changes) {
    const n = e.name(c.nodeId);
    if ('entry' in c) {
      set.push(`${n} = ${e.value(c.entry)}`);
      // The same generation again is a redelivery: allowed, it writes what is there.
      conditions.push(`(attribute_not_exists(${n}) OR ${n}.g <= ${e.value(c.entry.g)})`);
      continue;
    }
    remove.push(n);
    const g = c.onlyIf ?? c.generation;
    if (g !== undefined)
      conditions.push(`(attribute_not_exists(${n}) OR ${n}.g ${c.onlyIf === undefined ? '<=' : '='} ${e.value(g)})`);
  }
  const update = [set.length ? `SET ${set.join(', ')}` : '', remove.length ? `REMOVE ${remove.join(', ')}` : ''];
  return { e, update: update.join(' ').trim(), condition: conditions.join(' AND ') };
}

async function writeShard(store: Store, shard: number, changes: SummaryChange[]): Promise<number> {
  const { e, update, condition } = expressionOf(changes);
  try {
    await withRetry(store, () =>
      store.doc.send(
        new UpdateCommand({
          TableName: store.tableName,
          Key: summaryKey(shard),
          UpdateExpression: update,
          ...(condition ? { ConditionExpression: condition } : {}),
          ...e.params(),
        }),
      ),
    );
    return 1;
  } catch (error) {
    if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
  }
  // Some entry is newer than its change: drop those changes, then write the rest (again conditioned).
  const stored = await readShard(store, shard, true);
  const fresh = changes.filter((c) => {
    const now = stored.get(c.nodeId);
    if (!now) return true;
    if ('entry' in c) return now.g <= c.entry.g;
    return c.onlyIf !== undefined ? now.g === c.onlyIf : c.generation === undefined || now.g <= c.generation;
  });
  return 1 + (fresh.length ? await writeShard(store, shard, fresh) : 0);
}

function entriesOf(item: Record<string, unknown> | undefined): Map<string, SummaryEntry> {
  const out = new Map<string, SummaryEntry>();
  for (const [k, v] of Object.entries(item ?? {})) if (!RESERVED.has(k)) out.set(k, v as SummaryEntry);
  return out;
}

async function readShard(store: Store, shard: number, consistent: boolean): Promise<Map<string, SummaryEntry>> {
  const out = await withRetry(store, () =>
    store.doc.send(new GetCommand({ TableName: store.tableName, Key: summaryKey(shard), ConsistentRead: consistent })),
  );
  return entriesOf(out.Item);
}

/** The whole summary (one BatchGetItem per 100 shards, eventually consistent); undefined if it holds no item. */
export async function readSummary(store: Store): Promise<NodeState[] | undefined> {
  const keys = Array.from({ length: fleetShards() }, (_, s) => summaryKey(s));
  const items = await batchGet(store, keys);
  if (!items.length) return undefined;
  const nodes = items.flatMap((item) => [...entriesOf(item)].map(([id, e]) => nodeOfEntry(id, e)));
  return nodes.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

/**
 * Seeding and repair: the summary made to hold every node item as it is. Entries read before the node scan
 * whose node the scan did not find are removed only if still the same generation (a node made anew since keeps
 * its new entry). Returns the UpdateItems sent.
 */
export async function rebuildSummary(store: Store): Promise<number> {
  const before = new Map<string, number>();
  for (let s = 0; s < fleetShards(); s++) for (const [id, e] of await readShard(store, s, true)) before.set(id, e.g);
  const nodes = await listNodes(store);
  const seen = new Set(nodes.map((n) => n.nodeId));
  const changes: SummaryChange[] = nodes.map((n) => ({ nodeId: n.nodeId, entry: entryOf(n) }));
  for (const [nodeId, g] of before) if (!seen.has(nodeId)) changes.push({ nodeId, removed: true, onlyIf: g });
  return applyChanges(store, changes);
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
  return { nodeId, removed: true, ...(oldImage ? { generation: Number(oldImage.generation ?? 0) } : {}) };
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

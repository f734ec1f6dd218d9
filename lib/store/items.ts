// The item layout. A node's partition holds the node item and one item per claimed instance, so a
// node's whole ledger is one strongly consistent Query. A second, tiny item keyed by the instance UUID
// alone records which node owns the instance, so an instance can be claimed at most once fleet-wide.
import {
  poolKey,
  type Amounts,
  type InstanceRecord,
  type Inventory,
  type Migration,
  type NodeState,
  type PciDevice,
  type PciPool,
  type Resource,
  type Stats,
} from '../domain';

export const nodeKey = (nodeId: string) => ({ pk: `NODE#${nodeId}`, sk: 'NODE' });
export const instanceKey = (nodeId: string, instanceUuid: string) => ({
  pk: `NODE#${nodeId}`,
  sk: `INSTANCE#${instanceUuid}`,
});
export const ownerKey = (instanceUuid: string) => ({ pk: `INSTANCE#${instanceUuid}`, sk: 'OWNER' });
export const INSTANCE_PREFIX = 'INSTANCE#';
export const migrationKey = (migrationId: string) => ({ pk: `MIGRATION#${migrationId}`, sk: 'MIGRATION' });
/** A move's hold on a node lives in the node's partition, so the node's ledger is still one Query. */
export const holdKey = (nodeId: string, migrationId: string, role: 'new' | 'old') => ({
  pk: `NODE#${nodeId}`,
  sk: `MOVE#${migrationId}#${role}`,
});
export const HOLD_PREFIX = 'MOVE#';

/**
 * The version a device or cell item made anew at its key starts from (rules P7, NS8): the clock in
 * microseconds, not 1, so that a copy of the item it replaces (gone from the inventory and reported again, or
 * its node deleted and registered again) never meets a condition on the new one. Each later change adds 1,
 * and changes are conditional writes far slower than a microsecond: a new item's versions stay above the old.
 */
export const firstVersion = (now = Date.now()): number => now * 1000;
export const DEVICE_PREFIX = 'PCI#';
export const deviceKey = (nodeId: string, address: string) => ({
  pk: `NODE#${nodeId}`,
  sk: `${DEVICE_PREFIX}${address}`,
});

/**
 * Per resource, the node item keeps three figures: what claims hold, what is used (claims plus what
 * the host reserves) and the headroom under the node's own limit (limit - used). Conditions cannot do
 * arithmetic, so the headroom is stored for them and every write keeps the three consistent.
 */
export const COLUMNS: Record<Resource, { claimed: string; used: string; headroom: string }> = {
  memoryMb: { claimed: 'memoryMbClaimed', used: 'memoryMbUsed', headroom: 'memoryMbHeadroom' },
  diskGb: { claimed: 'localGbClaimed', used: 'localGbUsed', headroom: 'localGbHeadroom' },
  vcpus: { claimed: 'vcpusClaimed', used: 'vcpusUsed', headroom: 'vcpusHeadroom' },
};

export const INVENTORY_FIELDS = [
  'vcpus',
  'memoryMb',
  'localGb',
  'cpuAllocationRatio',
  'ramAllocationRatio',
  'diskAllocationRatio',
  'reservedHostMemoryMb',
  'reservedHostDiskMb',
  'reservedHostCpus',
] as const satisfies readonly (keyof Inventory)[];

export interface NodeItem extends Inventory {
  nodeId: string;
  generation: number;
  trackedCount: number;
  [column: string]: unknown;
}

function figures(item: Record<string, unknown>, column: 'claimed' | 'used' | 'headroom'): Amounts {
  const n = (r: Resource) => Number(item[COLUMNS[r][column]] ?? 0);
  return { memoryMb: n('memoryMb'), diskGb: n('diskGb'), vcpus: n('vcpus') };
}

export const usedOf = (item: Record<string, unknown>) => figures(item, 'used');
export const headroomOf = (item: Record<string, unknown>) => figures(item, 'headroom');

export function inventoryOf(item: Record<string, unknown>): Inventory {
  const inv = {} as Inventory;
  for (const f of INVENTORY_FIELDS) inv[f] = Number(item[f]);
  return inv;
}

/** The node item as a NodeState; its stats are the records' (rule S6), which the caller read, else none. */
export function nodeStateOf(item: Record<string, unknown>, stats: Stats = {}): NodeState {
  return {
    nodeId: String(item.nodeId),
    ...inventoryOf(item),
    used: usedOf(item),
    stats,
    generation: Number(item.generation ?? 0),
    ...(item.registeredAt === undefined ? {} : { registeredAt: Number(item.registeredAt) }),
    pciPools: { ...((item.pciPools as Record<string, PciPool> | undefined) ?? {}) },
    traits: (item.traits as string[] | undefined) ?? [],
    aggregates: (item.aggregates as string[] | undefined) ?? [],
  };
}

const RECORD_FIELDS = [
  'nodeId',
  'instanceUuid',
  'memoryMb',
  'diskGb',
  'vcpus',
  'pciDevices',
  'vmState',
  'taskState',
  'osType',
  'projectId',
  'flavor',
  'volumeBacked',
  'overhead',
  'fingerprint',
  'version',
  'migrationId',
  'serverGroup',
] as const satisfies readonly (keyof InstanceRecord)[];

export function instanceItem(record: InstanceRecord): Record<string, unknown> {
  return { ...instanceKey(record.nodeId, record.instanceUuid), type: 'instance', ...record };
}

export function instanceRecordOf(item: Record<string, unknown>): InstanceRecord {
  const record = {} as Record<string, unknown>;
  for (const f of RECORD_FIELDS) record[f] = item[f] ?? null;
  record.pciDevices = (item.pciDevices as string[] | undefined) ?? [];
  if (record.migrationId === null) delete record.migrationId;
  if (record.serverGroup === null) delete record.serverGroup;
  // Only a claim that asked for NUMA has these (null on a node without a topology, rule H5).
  if (item.numaTopology !== undefined) record.numaTopology = item.numaTopology;
  if (Array.isArray(item.numaTaken)) record.numaTaken = item.numaTaken as InstanceRecord['numaTaken'];
  return record as unknown as InstanceRecord;
}

export interface HoldItem {
  nodeId: string;
  migrationId: string;
  instanceUuid: string;
  role: 'new' | 'old';
  memoryMb: number;
  diskGb: number;
  vcpus: number;
  pciDevices: string[];
  /** What the hold takes from the node's NUMA cells (its side of the move, rule NS5). */
  numaTaken?: InstanceRecord['numaTaken'];
  /** When the hold was taken (ms since the epoch), for the audit's stale-hold rule L6; older holds lack it. */
  heldAt?: number;
}

export function holdItem(hold: HoldItem): Record<string, unknown> {
  return { ...holdKey(hold.nodeId, hold.migrationId, hold.role), type: 'hold', ...hold };
}

export function holdOf(item: Record<string, unknown>): HoldItem {
  return {
    nodeId: String(item.nodeId),
    migrationId: String(item.migrationId),
    instanceUuid: String(item.instanceUuid),
    role: item.role as 'new' | 'old',
    memoryMb: Number(item.memoryMb),
    diskGb: Number(item.diskGb),
    vcpus: Number(item.vcpus),
    pciDevices: (item.pciDevices as string[] | undefined) ?? [],
    ...(Array.isArray(item.numaTaken) ? { numaTaken: item.numaTaken as InstanceRecord['numaTaken'] } : {}),
    ...(item.heldAt === undefined ? {} : { heldAt: Number(item.heldAt) }),
  };
}

/**
 * The migration item. `record` is a copy of the instance record as the move's last write left it (linked to
 * the migration), so that a status change needs no read of the record: the write is conditioned on the
 * record's version, so a stale copy can only fail it (then the record is read). A final status drops it.
 */
export function migrationItem(m: Migration, record?: InstanceRecord): Record<string, unknown> {
  return { ...migrationKey(m.migrationId), type: 'migration', ...m, ...(record ? { record } : {}) };
}

export function migrationOf(item: Record<string, unknown>): Migration {
  const { pk: _pk, sk: _sk, type: _type, record: _record, ...rest } = item;
  return rest as unknown as Migration;
}

/** The migration item's copy of the instance record, if it has one (items written before the copy have none). */
export function recordCopyOf(item: Record<string, unknown>): InstanceRecord | undefined {
  return item.record ? instanceRecordOf(item.record as Record<string, unknown>) : undefined;
}

/** The instance record as a move claim leaves it: linked to the migration, one version on. */
export const linkedRecord = (record: InstanceRecord, migrationId: string): InstanceRecord => ({
  ...record,
  migrationId,
  version: record.version + 1,
});

export function deviceItem(nodeId: string, d: PciDevice): Record<string, unknown> {
  // `pool` lets a write to a PF check that an inventory update has not described it anew.
  return { ...deviceKey(nodeId, d.address), type: 'pci-device', nodeId, pool: poolKey(d), ...d };
}

export function deviceOf(item: Record<string, unknown>): PciDevice {
  const { pk: _pk, sk: _sk, type: _type, nodeId: _node, pool: _pool, ...rest } = item;
  const d = rest as unknown as PciDevice;
  if (d.numaNode === undefined) d.numaNode = null;
  return d;
}

// PCI device items: reading a node's devices, a short-lived copy per node, and the writes of device changes.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { byAddress, type DeviceChange, type PciDevice } from '../domain';
import type { Store } from './client';
import { DEVICE_PREFIX, deviceItem, deviceKey, deviceOf, nodeKey } from './items';
import { withRetry } from './retry';
import type { TransactItem } from './writes';

/**
 * The node item and its devices in one strongly consistent Query: they sort next to each other
 * ('NODE' < 'PCI#...'), after the instance records and holds.
 */
export async function readNodeAndDevices(
  store: Store,
  nodeId: string,
): Promise<{ node?: Record<string, unknown>; devices: Map<string, PciDevice> }> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await withRetry(() =>
      store.doc.send(
        new QueryCommand({
          TableName: store.tableName,
          KeyConditionExpression: 'pk = :pk AND sk >= :from',
          ExpressionAttributeValues: { ':pk': nodeKey(nodeId).pk, ':from': nodeKey(nodeId).sk },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      ),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  const node = items.find((i) => i.sk === nodeKey(nodeId).sk);
  const devices = byAddress(items.filter((i) => String(i.sk).startsWith(DEVICE_PREFIX)).map(deviceOf));
  remember(nodeId, devices);
  return { node, devices };
}

// A copy of each node's devices as this container last saw them. A claim chosen from a stale copy fails
// its conditions and reads again, so the copy only saves a read when it is still right.
const FRESH_MS = 2_000;
const seen = new Map<string, { at: number; devices: Map<string, PciDevice> }>();

function remember(nodeId: string, devices: Map<string, PciDevice>): void {
  seen.set(nodeId, { at: Date.now(), devices });
}

export function freshDevices(nodeId: string): Map<string, PciDevice> | undefined {
  const copy = seen.get(nodeId);
  return copy && Date.now() - copy.at < FRESH_MS ? copy.devices : undefined;
}

export function forgetDevices(nodeId: string): void {
  seen.delete(nodeId);
}

/** After a write commits, the copy is what the write made it. */
export function devicesWritten(nodeId: string, devices: Map<string, PciDevice>): void {
  remember(nodeId, devices);
}

/** Each change conditioned on the device being as it was read. */
export function deviceWrites(store: Store, nodeId: string, changes: DeviceChange[]): TransactItem[] {
  return changes.map((c) => {
    const unchanged = c.before
      ? { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': c.before.version } }
      : { ConditionExpression: 'attribute_not_exists(pk)' };
    if (!c.after) return { Delete: { TableName: store.tableName, Key: deviceKey(nodeId, c.address), ...unchanged } };
    return { Put: { TableName: store.tableName, Item: deviceItem(nodeId, c.after), ...unchanged } };
  });
}

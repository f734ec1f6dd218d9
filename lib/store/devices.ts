// PCI device items: reading a node's devices, a short-lived copy per node, and the writes of device changes.
import {
  allocate,
  applyChanges,
  busyCondition,
  byAddress,
  choose,
  poolDeltas,
  poolKey,
  refusalMessage,
  refusalReasons,
  release,
  type DeviceChange,
  type PciDevice,
  type PoolDelta,
  type Sized,
} from '../domain';
import { InsufficientResources, NodeNotFound } from '../errors';
import type { Store } from './client';
import { DEVICE_PREFIX, deviceItem, deviceKey, deviceOf, inventoryOf, nodeKey, usedOf } from './items';
import { plain } from './plain';
import { readNodePartition } from './query';
import type { TransactItem } from './writes';

/**
 * The node item and its devices in one strongly consistent Query: they sort next to each other
 * ('NODE' < 'PCI#...'), after the instance records and holds.
 */
export async function readNodeAndDevices(
  store: Store,
  nodeId: string,
): Promise<{ node?: Record<string, unknown>; devices: Map<string, PciDevice> }> {
  // The node item and its devices sort next to each other ('NODE' < 'PCI#...').
  const items = await readNodePartition(store, nodeId, nodeKey(nodeId).sk);
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

/**
 * After a write commits, the copy is what the write made it. With `changes`, they are applied to the copy
 * this container already has (which other claims of this container may have moved on since this one
 * read it), keeping that copy's age: local writes never make a copy look fresher than its last read.
 */
export function devicesWritten(nodeId: string, after: Map<string, PciDevice>, changes?: DeviceChange[]): void {
  const copy = seen.get(nodeId);
  if (!changes || !copy || Date.now() - copy.at >= FRESH_MS) return remember(nodeId, after);
  for (const c of changes) {
    const mine = copy.devices.get(c.address);
    // A PF's busy count moved by this write's delta, from whatever the copy counts now.
    if (c.busy && c.after && mine) copy.devices.set(c.address, { ...c.after, busyChildren: Math.max(0, mine.busyChildren + c.busy.delta) });
    else if (c.after) copy.devices.set(c.address, c.after);
    else copy.devices.delete(c.address);
  }
}

/**
 * Each change conditioned on the device being as it was read; a PF whose busy count alone changes on
 * what decides its pool (see busyCondition), so that claims of its different VFs do not collide.
 */
export function deviceWrites(store: Store, nodeId: string, changes: DeviceChange[]): TransactItem[] {
  return changes.map((c) => {
    if (c.busy && c.before) {
      const { exactly, atLeast } = busyCondition(c.busy);
      const values: Record<string, unknown> = { ':pool': poolKey(c.before) };
      const count = exactly !== undefined ? ((values[':n'] = exactly), 'busyChildren = :n') : ((values[':n'] = atLeast), 'busyChildren >= :n');
      // A PF taken meanwhile, or described anew by an inventory update, makes the claim read again.
      const condition = `#pool = :pool AND ${count}${c.busy.delta > 0 ? ' AND attribute_not_exists(#owner)' : ''}`;
      const names = { '#pool': 'pool', ...(c.busy.delta > 0 ? { '#owner': 'owner' } : {}) };
      if (!c.after) {
        return {
          Delete: {
            TableName: store.tableName, Key: deviceKey(nodeId, c.address), ConditionExpression: condition,
            ExpressionAttributeNames: names, ExpressionAttributeValues: values, ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        };
      }
      return {
        Update: {
          TableName: store.tableName,
          Key: deviceKey(nodeId, c.address),
          UpdateExpression: 'ADD busyChildren :d, version :one',
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ...values, ':d': c.busy.delta, ':one': 1 },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      };
    }
    const unchanged = {
      ...(c.before
        ? { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': c.before.version } }
        : { ConditionExpression: 'attribute_not_exists(pk)' }),
      // What the device is now, so a failed claim can choose again without reading all devices.
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
    if (!c.after) return { Delete: { TableName: store.tableName, Key: deviceKey(nodeId, c.address), ...unchanged } };
    return { Put: { TableName: store.tableName, Item: deviceItem(nodeId, c.after), ...unchanged } };
  });
}

interface DeviceTake {
  /** Ends the mark that this container is taking the chosen devices. */
  done: () => void;
  /** The devices the choice was made from. */
  from: Map<string, PciDevice>;
  chosen: string[];
  changes: DeviceChange[];
  after: Map<string, PciDevice>;
  pools: Map<string, PoolDelta>;
}

/**
 * Chooses devices for a claim's PCI requests from the node's devices: a copy this container read
 * moments ago if it has one (no read at all), else one Query. Refuses with Nova's reasons when the
 * requests cannot be met (scalar reasons first, then `Claim pci failed`).
 */
// Devices this container's own claims are taking right now: a claim here does not reach for them. Only a
// hint (the write's conditions decide); it matters where one process serves many claims at once.
const taking = new Map<string, Set<string>>();

/** Marks the devices as being taken by a claim of this container until `done` is called. */
function hold(nodeId: string, addresses: string[]): () => void {
  const set = taking.get(nodeId) ?? new Set<string>();
  taking.set(nodeId, set);
  for (const a of addresses) set.add(a);
  return () => {
    for (const a of addresses) set.delete(a);
    if (set.size === 0) taking.delete(nodeId);
  };
}

/** The devices with those this container is taking shown as taken, so that choose() passes them over. */
function withoutTaking(nodeId: string, devices: Map<string, PciDevice>): Map<string, PciDevice> {
  const busy = taking.get(nodeId);
  if (!busy?.size) return devices;
  const view = new Map(devices);
  for (const a of busy) {
    const d = view.get(a);
    if (d && d.owner === undefined) view.set(a, { ...d, owner: '(being taken)' });
  }
  return view;
}

/**
 * Chooses devices for a claim's PCI requests from the node's devices: a copy this container read
 * moments ago if it has one (no read at all), else one Query. Refuses with Nova's reasons when the
 * requests cannot be met (scalar reasons first, then `Claim pci failed`). Call `done` once the claim's
 * write has committed or failed.
 */
export async function takeDevices(store: Store, nodeId: string, request: Sized & { instanceUuid: string }): Promise<DeviceTake> {
  let devices = freshDevices(nodeId);
  let chosen = devices && (choose(withoutTaking(nodeId, devices), request.pciRequests) ?? choose(devices, request.pciRequests));
  let node: Record<string, unknown> | undefined;
  if (!chosen) {
    ({ node, devices } = await readNodeAndDevices(store, nodeId));
    if (!node) throw new NodeNotFound(nodeId);
    chosen = choose(withoutTaking(nodeId, devices), request.pciRequests) ?? choose(devices, request.pciRequests);
  }
  if (!chosen || !devices) {
    const item = node ?? {};
    const why = refusalReasons(inventoryOf(item), usedOf(item), request, false);
    throw new InsufficientResources(refusalMessage(why), why);
  }
  const changes = allocate(devices, chosen, request.instanceUuid);
  const after = applyChanges(devices, changes);
  return { from: new Map(devices), chosen, changes, after, pools: poolDeltas(devices, after), done: hold(nodeId, chosen) };
}

/**
 * A claim's device writes failed their conditions: the devices as they are now came back with the
 * cancellation (ALL_OLD), so the copy is corrected from them and the next attempt chooses again without
 * another read. A device that is gone (no image) drops from the copy.
 */
export function learnFromCancellation(nodeId: string, take: DeviceTake, reasons: { Code?: string; Item?: Record<string, unknown> }[]): void {
  // Taking a PF counts its VFs in the pools, so its retry needs every VF as it is now: read them all.
  if (take.chosen.some((a) => take.from.get(a)?.deviceType === 'type-PF')) return forgetDevices(nodeId);
  const copy = new Map(take.from);
  take.changes.forEach((change, i) => {
    const reason = reasons[i];
    if (reason?.Code !== 'ConditionalCheckFailed') return;
    if (reason.Item) copy.set(change.address, deviceOf(plain(reason.Item)));
    else copy.delete(change.address);
  });
  remember(nodeId, copy);
}

/** Frees exactly the devices `owner` holds among `addresses`, after one read of the node's devices. */
export async function giveBackDevices(store: Store, nodeId: string, addresses: string[], owner: string) {
  const { devices } = await readNodeAndDevices(store, nodeId);
  const changes = release(devices, addresses, owner);
  const after = applyChanges(devices, changes);
  return { changes, after, pools: poolDeltas(devices, after) };
}

// PCI device items: reading a node's devices, a short-lived copy per node, and the writes of device changes.
import {
  claimable,
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
import type { DeviceUpkeep, NamedItem, Reasons, TransactItem } from './commit';
import { DEVICE_PREFIX, deviceItem, deviceKey, deviceOf, inventoryOf, nodeKey, usedOf } from './items';
import { plain } from './plain';
import { readNodePartition } from './query';
import { Contended } from './retry';

/**
 * The node item and its devices in one strongly consistent Query: they sort next to each other
 * ('NODE' < 'PCI#...'), after the instance records and holds.
 */
export async function readNodeAndDevices(
  store: Store,
  nodeId: string,
): Promise<{ node?: Record<string, unknown>; devices: Map<string, PciDevice>; leftovers: boolean }> {
  const items = await readNodePartition(store, nodeId, nodeKey(nodeId).sk);
  const node = items.find((i) => i.sk === nodeKey(nodeId).sk);
  const read = byAddress(items.filter((i) => String(i.sk).startsWith(DEVICE_PREFIX)).map(deviceOf));
  // Items of a node that is not there: what a delete that stopped halfway left.
  return { node, devices: store.devices.remember(nodeId, read), leftovers: !node && items.length > 0 };
}

/**
 * Each change conditioned on the device being as it was read; a PF whose busy count alone changes on
 * what decides its pool (see busyCondition), so that claims of its different VFs do not collide.
 */
export function deviceWrites(store: Store, nodeId: string, changes: DeviceChange[]): NamedItem[] {
  return changes.map((c) => ({ name: `device:${c.address}`, item: deviceWrite(store, nodeId, c) }));
}

function deviceWrite(store: Store, nodeId: string, c: DeviceChange): TransactItem {
  if (c.busy && c.before) return busyWrite(store, nodeId, c, c.busy, c.before);
  const unchanged = {
    ...(c.before
      ? { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': c.before.version } }
      : { ConditionExpression: 'attribute_not_exists(pk)' }),
    // What the device is now, so a failed claim can choose again without reading all devices.
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
  if (!c.after) return { Delete: { TableName: store.tableName, Key: deviceKey(nodeId, c.address), ...unchanged } };
  return { Put: { TableName: store.tableName, Item: deviceItem(nodeId, c.after), ...unchanged } };
}

function busyWrite(
  store: Store,
  nodeId: string,
  c: DeviceChange,
  busy: NonNullable<DeviceChange['busy']>,
  before: PciDevice,
): TransactItem {
  const { exactly, atLeast } = busyCondition(busy);
  const values: Record<string, unknown> = { ':pool': poolKey(before) };
  const count =
    exactly !== undefined
      ? ((values[':n'] = exactly), 'busyChildren = :n')
      : ((values[':n'] = atLeast), 'busyChildren >= :n');
  // A PF taken meanwhile, or described anew by an inventory update, makes the claim read again.
  const condition = `#pool = :pool AND ${count}${busy.delta > 0 ? ' AND attribute_not_exists(#owner)' : ''}`;
  const names = { '#pool': 'pool', ...(busy.delta > 0 ? { '#owner': 'owner' } : {}) };
  if (!c.after) {
    return {
      Delete: {
        TableName: store.tableName,
        Key: deviceKey(nodeId, c.address),
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
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
      ExpressionAttributeValues: { ...values, ':d': busy.delta, ':one': 1 },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

export interface DeviceTake {
  /** Ends the mark that this container is taking the chosen devices. */
  done: () => void;
  /** The devices the choice was made from. */
  from: Map<string, PciDevice>;
  chosen: string[];
  changes: DeviceChange[];
  after: Map<string, PciDevice>;
  pools: Map<string, PoolDelta>;
}

/** How many times a write waits for this container's writes in flight on its PFs before it is sent anyway. */
const WAITS = 4;

/**
 * Chooses devices for a claim's PCI requests from the node's devices: a copy this container read
 * moments ago if it has one (no read at all), else one Query, shared with this container's claims that
 * read at the same time. Refuses with Nova's reasons when the requests cannot be met (scalar reasons
 * first, then `Claim pci failed`). Should this container's writes in flight make the choice's conditions
 * on a PF fail, it waits for them and chooses again (rule P6). Call `done` once the claim's write has
 * committed or failed.
 */
export async function takeDevices(
  store: Store,
  nodeId: string,
  request: Sized & { instanceUuid: string },
  given?: string[],
): Promise<DeviceTake> {
  const cache = store.devices;
  const pick = picker(store, nodeId, request, given);
  for (let waits = 0; ; waits++) {
    let devices = cache.fresh(nodeId);
    let chosen = devices && pick(devices);
    let node: Record<string, unknown> | undefined;
    if (!chosen) {
      ({ node, devices } = await cache.shared(nodeId, () => readNodeAndDevices(store, nodeId)));
      if (!node) throw new NodeNotFound(nodeId);
      chosen = pick(devices);
      // Taken since the fit read them: the claim fits again.
      if (!chosen && given) throw new Contended('a device the NUMA fit chose was taken');
    }
    if (!chosen || !devices) {
      const item = node ?? {};
      const why = refusalReasons(inventoryOf(item), usedOf(item), request, false);
      throw new InsufficientResources(refusalMessage(why), why);
    }
    const changes = allocate(devices, chosen, request.instanceUuid);
    const clash = waits < WAITS ? cache.clash(nodeId, changes) : undefined;
    if (clash) {
      await clash;
      continue;
    }
    // No await from the choice to the hold: a concurrent claim of this container must see the devices taken.
    const after = applyChanges(devices, changes);
    cache.derivedFrom(after, devices);
    return {
      from: new Map(devices),
      chosen,
      changes,
      after,
      pools: poolDeltas(devices, after),
      done: cache.hold(nodeId, chosen, changes),
    };
  }
}

/** The claim's choice from a set of devices; `given`: a NUMA fit chose them within its cells' affinity (rule NS3). */
function picker(store: Store, nodeId: string, request: Sized, given?: string[]) {
  return (ds: Map<string, PciDevice>) =>
    given
      ? given.every((a) => {
          const d = ds.get(a);
          return d !== undefined && claimable(d, ds);
        })
        ? given
        : undefined
      : (choose(store.devices.withoutTaking(nodeId, ds), request.pciRequests) ?? choose(ds, request.pciRequests));
}

/**
 * The cache's part of a claim's write that takes devices. Should another claim take one of them first,
 * the devices as they are now came back with the cancellation (ALL_OLD): the copy is corrected from them
 * (`learn`) so the next attempt chooses again without another read; a device that is gone drops from the
 * copy. Taking a PF counts its VFs in the pools, so its retry needs every VF as it is now: read them all.
 * So does a PF whose own condition failed: it comes back without the VFs it counts (rule P8).
 */
export function takeUpkeep(store: Store, nodeId: string, take: DeviceTake, onRace: 'learn' | 'forget'): DeviceUpkeep {
  const isPf = (address: string) => take.from.get(address)?.deviceType === 'type-PF';
  const learn = (reasons: Reasons) => {
    // Each device whose condition failed, with its image as it is now (none: it is gone).
    const failed = take.changes.flatMap(({ address }) => {
      const reason = reasons.get(`device:${address}`);
      return reason?.Code === 'ConditionalCheckFailed' ? [{ address, item: reason.Item }] : [];
    });
    if (take.chosen.some(isPf) || failed.some((f) => isPf(f.address))) return store.devices.forget(nodeId);
    const copy = new Map(take.from);
    for (const { address, item } of failed) {
      if (item) copy.set(address, deviceOf(plain(item)));
      else copy.delete(address);
    }
    store.devices.remember(nodeId, copy);
  };
  return { nodeId, after: take.after, changes: take.changes, done: take.done, take: { onRace, learn } };
}

/**
 * Frees exactly the devices `owner` holds among `addresses`. A fresh copy that shows every one of them held by
 * `owner` saves the read: the writes are conditioned on the devices being as the copy shows them, so a stale
 * copy costs one failed write, after which the copy is forgotten and the retry reads. Should this container's
 * writes in flight make the release's conditions on a PF fail, it waits for them first (rule P6).
 */
export async function giveBackDevices(store: Store, nodeId: string, addresses: string[], owner: string) {
  for (let waits = 0; ; waits++) {
    const copy = store.devices.fresh(nodeId);
    const known = copy !== undefined && addresses.every((a) => copy.get(a)?.owner === owner);
    const read = () => store.devices.shared(nodeId, () => readNodeAndDevices(store, nodeId));
    const devices = known ? copy : (await read()).devices;
    const changes = release(devices, addresses, owner);
    const clash = waits < WAITS ? store.devices.clash(nodeId, changes) : undefined;
    if (clash) {
      await clash;
      continue;
    }
    const after = applyChanges(devices, changes);
    store.devices.derivedFrom(after, devices);
    const upkeep: DeviceUpkeep = { nodeId, after, changes, done: store.devices.hold(nodeId, [], changes) };
    return { changes, after, pools: poolDeltas(devices, after), upkeep };
  }
}

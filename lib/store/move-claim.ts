import { GetCommand } from '@aws-sdk/lib-dynamodb';
import {
  claimGuards,
  fingerprint,
  initialStatus,
  instanceUsage,
  livePageSizeRefusal,
  livePciRefusal,
  mayStayOnNode,
  refusalMessage,
  retargeted,
  scale,
  type Flavor,
  type InstanceRecord,
  type LimitOverrides,
  type Migration,
  type NumaAsk,
  type MoveType,
  type Overhead,
  type PciRequest,
  type Sizing,
} from '../domain';
import { InstanceConflict, InstanceNotFound, InsufficientResources, InvalidMove } from '../errors';
import type { Store } from './client';
import { commit, commitOrStartOver, type NamedItem } from './commit';
import { dropLeaveItems, moveJoinItems } from './server-group-moves';
import { deviceWrites, giveBackDevices, takeDevices, takeUpkeep, type DeviceTake } from './devices';
import {
  holdItem,
  holdKey,
  holdOf,
  instanceKey,
  instanceRecordOf,
  linkedRecord,
  migrationItem,
  migrationKey,
  migrationOf,
} from './items';
import { cellReleases } from './numa-cells';
import { claimCellWrites, fitFresh, numaRequestOf, numaSide, oldSide, sideOf, type NumaMigration } from './numa-claim';
import { retargetable, retargetItems } from './live-migration';
import { classifyMoveClaim, refusalError } from './outcomes';
import { readItems } from './reads';
import { Contended, withRetry } from './retry';
import { guardConditions, nodeUpdate } from './writes';

export interface MoveRequest extends Partial<Pick<NumaAsk, 'image' | 'numaTopology'>> {
  migrationId: string;
  instanceUuid: string;
  moveType: MoveType;
  sourceNodeId: string;
  /** Required for a resize; a migration, evacuation or live migration keeps the instance's flavor. */
  newFlavor?: NumaAsk['flavor'];
  /** The destination's overhead for the instance; the instance's current overhead when left out. */
  overhead?: Overhead;
  limits: NumaAsk['limits'];
  pciRequests: PciRequest[];
}

export interface MoveResult {
  created: boolean;
  migration: Migration;
}

function sizing(flavor: Flavor, overhead: Overhead, volumeBacked: boolean, pciDevices: string[]): Sizing {
  return { flavor, overhead, volumeBacked, amounts: instanceUsage(flavor, overhead, volumeBacked), pciDevices };
}

/** Whether a migration found in place is the one this request's own earlier, ambiguously answered write made. */
export const movedByMe = (intended: readonly Migration[], found: Migration) =>
  intended.some((m) => m.fingerprint === found.fingerprint);

/** The items of a move claim: the destination's update and hold, the migration, the instance's link, the devices. */
export function moveClaimItems(
  store: Store,
  migration: Migration,
  instance: InstanceRecord,
  limits: LimitOverrides,
  pci?: DeviceTake,
): NamedItem[] {
  const { destNodeId: dest, new: next } = migration;
  const created = (name: string, Item: Record<string, unknown>): NamedItem => ({
    name,
    item: { Put: { TableName: store.tableName, Item, ConditionExpression: 'attribute_not_exists(pk)' } },
  });
  const hold = {
    nodeId: dest,
    migrationId: migration.migrationId,
    instanceUuid: instance.instanceUuid,
    role: 'new' as const,
  };
  return [
    {
      name: 'node',
      item: nodeUpdate(store, dest, {
        amounts: next.amounts,
        tracked: 1,
        conditions: guardConditions(claimGuards(next.amounts, limits)),
        pools: pci?.pools,
      }),
    },
    created(
      'hold:new',
      holdItem({
        ...hold,
        ...next.amounts,
        pciDevices: next.pciDevices,
        numaTaken: numaSide(migration, 'new')?.taken,
        heldAt: Date.now(),
      }),
    ),
    created('migration', migrationItem(migration, linkedRecord(instance, migration.migrationId))),
    {
      name: 'instance',
      item: {
        Update: {
          TableName: store.tableName,
          Key: instanceKey(instance.nodeId, instance.instanceUuid),
          UpdateExpression: 'SET migrationId = :m, version = :next',
          ConditionExpression: 'version = :v AND attribute_not_exists(migrationId)',
          ExpressionAttributeValues: {
            ':m': migration.migrationId,
            ':v': instance.version,
            ':next': instance.version + 1,
          },
        },
      },
    },
    ...(pci ? deviceWrites(store, dest, pci.changes) : []),
  ];
}

/** The migration record a move claim makes: the instance's size now, and the size it moves to. */
function newMigration(
  request: MoveRequest,
  destNodeId: string,
  instance: InstanceRecord,
  print: string,
  pciDevices: string[],
): Migration {
  const flavor = request.newFlavor ?? instance.flavor;
  const overhead = request.overhead ?? instance.overhead;
  return {
    migrationId: request.migrationId,
    instanceUuid: instance.instanceUuid,
    moveType: request.moveType,
    sourceNodeId: request.sourceNodeId,
    destNodeId,
    old: sizing(instance.flavor, instance.overhead, instance.volumeBacked, instance.pciDevices),
    new: sizing(flavor, overhead, instance.volumeBacked, pciDevices),
    status: initialStatus(request.moveType),
    sequence: 0,
    fingerprint: print,
    version: 1,
  };
}

/**
 * Claims the destination of a move (Nova's resize_claim / rebuild_claim): the destination's hold, the
 * migration record and the instance's link to it in ONE transaction, after one read of the instance.
 * The test is the instance claim's: the new size against the destination's limits.
 */
export async function claimMove(store: Store, destNodeId: string, request: MoveRequest): Promise<MoveResult> {
  refuseFromRequest(destNodeId, request);
  const print = fingerprint({ destNodeId, ...request });
  return withRetry<MoveResult, Migration>(store, async (context) => {
    const read = await readMove(store, destNodeId, request, print);
    if ('found' in read) return { created: movedByMe(context.intended, read.found), migration: read.found };
    const { instance, previous } = read;
    const flavor = request.newFlavor ?? instance.flavor;
    const overhead = request.overhead ?? instance.overhead;
    const sized = {
      flavor,
      overhead,
      volumeBacked: instance.volumeBacked,
      limits: request.limits,
      pciRequests: request.pciRequests,
    };
    // The new size's devices come from the destination (rule O6 step 4).
    const pci = request.pciRequests.length
      ? await takeDevices(store, destNodeId, { ...sized, instanceUuid: instance.instanceUuid })
      : undefined;
    // The destination fits the new size afresh; the source keeps the instance's topology (rule NS5).
    const numa = numaRequestOf({ ...request, flavor });
    const fit = numa ? await fitFresh(store, destNodeId, numa, { ...request, ...sized }) : undefined;
    const pageReason = livePageSizeRefusal(request.moveType, instance.numaTopology, sideOf(fit)?.topology);
    if (pageReason) throw new InsufficientResources(refusalMessage([pageReason]), [pageReason]);
    const claimed: NumaMigration = {
      ...newMigration(request, destNodeId, instance, print, pci?.chosen ?? []),
      ...(oldSide(instance) || fit ? { numa: { old: oldSide(instance), new: sideOf(fit) } } : {}),
    };
    const migration: NumaMigration = previous ? { ...retargeted(previous, claimed), numa: claimed.numa } : claimed;
    const claimItems = [
      ...moveClaimItems(store, migration, instance, request.limits, pci),
      ...(fit?.kind === 'fitted' ? claimCellWrites(store, destNodeId, fit) : []),
      // A member of a server group joins the destination's count for the move's duration (rule G9).
      ...(await moveJoinItems(store, instance, destNodeId)),
    ];
    const released = previous ? await retargetItems(store, claimItems, previous, migration, instance) : undefined;
    const write = {
      items: released?.items ?? claimItems,
      intent: migration,
      devices: [...(pci ? [takeUpkeep(store, destNodeId, pci, 'forget')] : []), ...(released?.devices ?? [])],
      // Whatever raced (the migration, the instance, a device), the destination's devices are read anew.
      forgetOnRace: destNodeId,
    };
    const outcome = await commit(store, context, write, (reasons) => classifyMoveClaim(reasons, sized));
    switch (outcome.kind) {
      case 'committed':
        return { created: true, migration };
      case 'raced':
        throw new Contended('move claim raced');
      case 'node-gone':
      case 'refused':
      case 'contended':
        throw refusalError(destNodeId, outcome);
    }
  });
}

/**
 * The move's migration and instance, in one read: this very claim made before (`found`), or the instance to move
 * with the migration this claim re-targets, if any. A migration made by another request is a conflict, unless this
 * claim re-targets it (rule L4); so is an instance already moving under another migration.
 */
async function readMove(
  store: Store,
  destNodeId: string,
  request: MoveRequest,
  print: string,
): Promise<{ found: Migration } | { instance: InstanceRecord; previous?: Migration }> {
  const [existing, item] = await readItems(store, [
    migrationKey(request.migrationId),
    instanceKey(request.sourceNodeId, request.instanceUuid),
  ]);
  const found = existing ? migrationOf(existing) : undefined;
  if (found?.fingerprint === print) return { found };
  const previous = found && retargetable(found, request, destNodeId);
  if (!item) throw new InstanceNotFound(request.sourceNodeId, request.instanceUuid);
  const instance = instanceRecordOf(item);
  if (instance.migrationId && instance.migrationId !== previous?.migrationId) {
    throw new InstanceConflict(
      `Instance ${instance.instanceUuid} is already moving (migration ${instance.migrationId}).`,
    );
  }
  return { instance, previous };
}

/** Refusals the request alone decides, before anything is read or written (rules M6, L3). */
function refuseFromRequest(destNodeId: string, request: MoveRequest): void {
  if (destNodeId === request.sourceNodeId && !mayStayOnNode(request.moveType)) {
    throw new InvalidMove(
      `Instance ${request.instanceUuid} is already on node ${destNodeId}: a move of type ${request.moveType} needs another node as its destination; only a resize may stay on the same node.`,
    );
  }
  const pciReason = livePciRefusal(request.moveType, request.pciRequests);
  if (pciReason) throw new InsufficientResources(refusalMessage([pciReason]), [pciReason]);
}

/**
 * Nova's drop_move_claim on one node: releases the move's hold of the new (or old) size there. The
 * migration's status does not change; a later status that needs the dropped hold is refused. False if
 * there was no such hold.
 */
export async function dropMoveClaim(
  store: Store,
  nodeId: string,
  migrationId: string,
  role: 'new' | 'old',
): Promise<boolean> {
  return withRetry(store, async (context) => {
    const out = await store.doc.send(
      new GetCommand({ TableName: store.tableName, Key: holdKey(nodeId, migrationId, role), ConsistentRead: true }),
    );
    if (!out.Item) return false;
    const hold = holdOf(out.Item);
    const pci = hold.pciDevices.length
      ? await giveBackDevices(store, nodeId, hold.pciDevices, hold.instanceUuid)
      : undefined;
    const items: NamedItem[] = [
      {
        name: `hold:${role}`,
        item: {
          Delete: {
            TableName: store.tableName,
            Key: holdKey(nodeId, migrationId, role),
            ConditionExpression: 'attribute_exists(pk)',
          },
        },
      },
      { name: 'node', item: nodeUpdate(store, nodeId, { amounts: scale(hold, -1), tracked: -1, pools: pci?.pools }) },
      ...(pci ? deviceWrites(store, nodeId, pci.changes) : []),
      ...cellReleases(store, nodeId, hold.numaTaken),
      // A member of a server group no longer counts where the move no longer holds it (rule G9).
      ...(await dropLeaveItems(store, hold)),
    ];
    await commitOrStartOver(store, context, { items, devices: pci ? [pci.upkeep] : [] });
    return true;
  });
}

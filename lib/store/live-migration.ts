// A live migration's re-target (rule L4): the store's part.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { retargetDecision, scale, type InstanceRecord, type Migration, type MoveType } from '../domain';
import { InstanceConflict } from '../errors';
import type { Store } from './client';
import type { DeviceUpkeep, NamedItem } from './commit';
import { deviceWrites, giveBackDevices } from './devices';
import { holdKey, holdOf, migrationItem } from './items';
import { cellReleases } from './numa-cells';
import { retargetLeaveItems } from './server-group-moves';
import { nodeUpdate } from './writes';

/** The migration a claim re-targets, or a conflict (InstanceConflict) when the claim cannot re-target it. */
export function retargetable(
  m: Migration,
  request: { instanceUuid: string; sourceNodeId: string; moveType: MoveType },
  destNodeId: string,
): Migration {
  const decision = retargetDecision(m, request, destNodeId);
  switch (decision.kind) {
    case 'retarget':
      return m;
    case 'conflict':
      throw new InstanceConflict(decision.reason);
  }
}

/**
 * A re-target's items: the new destination's node update, hold and devices as a move claim builds them, the
 * migration rewritten over the version read (instead of created), the instance left as it is (it already
 * points to the migration), and the former destination's hold released with its devices, all in ONE
 * transaction: no moment holds both destinations, or neither.
 */
export async function retargetItems(
  store: Store,
  claimItems: NamedItem[],
  previous: Migration,
  next: Migration,
  instance: InstanceRecord,
): Promise<{ items: NamedItem[]; devices: DeviceUpkeep[] }> {
  const former = previous.destNodeId;
  const items = claimItems.filter((i) => i.name !== 'migration' && i.name !== 'instance');
  items.push({
    name: 'migration',
    item: {
      Put: {
        TableName: store.tableName,
        // The instance stays as read, still linked: the migration keeps its copy (see migrationItem).
        Item: migrationItem(next, instance),
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: { ':v': previous.version },
      },
    },
  });
  // Whether or not its hold was dropped by hand, the former destination counted the member (rule G9).
  items.push(...retargetLeaveItems(store, instance, former));
  const out = await store.doc.send(
    new GetCommand({
      TableName: store.tableName,
      Key: holdKey(former, previous.migrationId, 'new'),
      ConsistentRead: true,
    }),
  );
  // Dropped by hand already (rule O9): nothing is left to release there.
  if (!out.Item) return { items, devices: [] };
  const hold = holdOf(out.Item);
  const pci = hold.pciDevices.length
    ? await giveBackDevices(store, former, hold.pciDevices, hold.instanceUuid)
    : undefined;
  items.push(
    {
      name: 'hold:former',
      item: {
        Delete: {
          TableName: store.tableName,
          Key: holdKey(former, previous.migrationId, 'new'),
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
    },
    {
      name: 'node:former',
      item: nodeUpdate(store, former, { amounts: scale(hold, -1), tracked: -1, pools: pci?.pools }),
    },
    ...(pci ? deviceWrites(store, former, pci.changes).map((d) => ({ ...d, name: `${d.name}@former` })) : []),
    // Its NUMA cells too (rule NS5), named apart from the new destination's.
    ...cellReleases(store, former, hold.numaTaken).map((c) => ({ ...c, name: `${c.name}@former` })),
  );
  return { items, devices: pci ? [pci.upkeep] : [] };
}

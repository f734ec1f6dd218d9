// The named items of each write: names, keys and the conditions each outcome of outcomes.ts relies on.
import { planClaim, type DeviceChange, type InstanceRecord, type Migration, type PciDevice } from '../../../lib/domain';
import { claimItems } from '../../../lib/store/claim';
import { deviceWrites } from '../../../lib/store/devices';
import { releaseItems } from '../../../lib/store/instances';
import { moveClaimItems } from '../../../lib/store/move-claim';
import { claimRequest, offlineStore } from './fixtures';

const store = offlineStore(async () => undefined);
const byName = (items: { name: string; item: Record<string, unknown> }[]) =>
  Object.fromEntries(items.map((i) => [i.name, i.item]));

describe('claim items', () => {
  const plan = planClaim(claimRequest());
  const record: InstanceRecord = { nodeId: 'n1', ...plan.record };
  const items = byName(claimItems(store, record, plan));

  it('are the node, the instance and its owner, in that order', () => {
    expect(claimItems(store, record, plan).map((i) => i.name)).toEqual(['node', 'instance', 'owner']);
  });
  it('condition the node on existing and the claim test, returning its image to explain a refusal', () => {
    const node = items.node?.Update as Record<string, unknown>;
    expect(node.Key).toEqual({ pk: 'NODE#n1', sk: 'NODE' });
    expect(node.ConditionExpression).toMatch(/^attribute_exists\(pk\) AND #n\d+ >= :v\d+/);
    expect(node.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
  });
  it('put the record only if absent, the owner if absent or a tombstone it does not repeat; the owner comes back', () => {
    expect(items.instance).toMatchObject({
      Put: {
        Item: { pk: 'NODE#n1', sk: 'INSTANCE#i-1', type: 'instance' },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
    expect(items.owner).toMatchObject({
      Put: {
        Item: { pk: 'INSTANCE#i-1', sk: 'OWNER', nodeId: 'n1', claimedOn: 'n1', fingerprint: record.fingerprint },
        ConditionExpression:
          'attribute_not_exists(pk) OR (released = :t AND (claimedOn <> :node OR fingerprint <> :fp OR expiresAt < :now))',
        ExpressionAttributeValues: { ':t': true, ':node': 'n1', ':fp': record.fingerprint },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
  });
});

describe('device items', () => {
  const vf = {
    address: '0000:81:02.0',
    vendorId: '8086',
    productId: '154c',
    deviceType: 'type-VF',
    numaNode: null,
    version: 4,
    busyChildren: 0,
  } as unknown as PciDevice;
  it('are named by address and conditioned on the version read (or on being new)', () => {
    const changes: DeviceChange[] = [
      { address: vf.address, before: vf, after: { ...vf, owner: 'i-1', version: 5 } } as DeviceChange,
      { address: '0000:81:02.1', after: { ...vf, address: '0000:81:02.1' } } as DeviceChange,
    ];
    const [taken, added] = deviceWrites(store, 'n1', changes);
    expect(taken).toMatchObject({
      name: 'device:0000:81:02.0',
      item: {
        Put: {
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':v': 4 },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    });
    expect(added).toMatchObject({
      name: 'device:0000:81:02.1',
      item: { Put: { ConditionExpression: 'attribute_not_exists(pk)' } },
    });
  });
});

describe('release items', () => {
  const record = {
    nodeId: 'n1',
    instanceUuid: 'i-1',
    memoryMb: 128,
    diskGb: 1,
    vcpus: 1,
    pciDevices: [],
    vmState: 'active',
    version: 3,
  } as unknown as InstanceRecord;
  it('delete the record on the version read, leave the owner a tombstone, give the amounts back to the node', () => {
    const items = releaseItems(store, { ...record, fingerprint: 'fp' });
    expect(items.map((i) => i.name)).toEqual(['instance', 'owner', 'node']);
    const owner = byName(items).owner?.Update as { ExpressionAttributeValues: Record<string, unknown> };
    expect(owner).toMatchObject({ Key: { pk: 'INSTANCE#i-1', sk: 'OWNER' } });
    expect(owner.ExpressionAttributeValues).toMatchObject({ ':t': true, ':node': 'n1', ':fp': 'fp' });
    const { ':exp': exp, ':at': at } = owner.ExpressionAttributeValues;
    expect(Number(exp) - Math.floor(Date.parse(String(at)) / 1000)).toBe(15 * 60);
    expect(byName(items).instance).toMatchObject({
      Delete: { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': 3 } },
    });
    const node = byName(items).node?.Update as { ExpressionAttributeValues: Record<string, unknown> };
    expect(Object.values(node.ExpressionAttributeValues)).toEqual(expect.arrayContaining([-128, -1]));
  });
});

describe('move claim items', () => {
  const sizing = {
    flavor: {},
    overhead: {},
    volumeBacked: false,
    amounts: { memoryMb: 128, diskGb: 1, vcpus: 1 },
    pciDevices: [],
  };
  const migration = {
    migrationId: 'm1',
    instanceUuid: 'i-1',
    sourceNodeId: 'n1',
    destNodeId: 'n2',
    old: sizing,
    new: sizing,
  } as unknown as Migration;
  const instance = { nodeId: 'n1', instanceUuid: 'i-1', version: 7 } as InstanceRecord;
  it('are the destination node, its hold, the migration and the instance link, each with its condition', () => {
    const items = moveClaimItems(store, migration, instance, {});
    expect(items.map((i) => i.name)).toEqual(['node', 'hold:new', 'migration', 'instance']);
    const named = byName(items);
    expect(named['hold:new']).toMatchObject({
      Put: { Item: { pk: 'NODE#n2', sk: 'MOVE#m1#new' }, ConditionExpression: 'attribute_not_exists(pk)' },
    });
    expect(named.migration).toMatchObject({
      Put: { Item: { pk: 'MIGRATION#m1' }, ConditionExpression: 'attribute_not_exists(pk)' },
    });
    expect(named.instance).toMatchObject({
      Update: {
        Key: { pk: 'NODE#n1', sk: 'INSTANCE#i-1' },
        ConditionExpression: 'version = :v AND attribute_not_exists(migrationId)',
      },
    });
  });
});

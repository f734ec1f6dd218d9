// The baseline: the same three items as one bare TransactWriteItems, built from the key helpers only.
import { TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { AMOUNTS, FLAVOR } from './settings';
import { COLUMNS, instanceKey, nodeKey, ownerKey, type Store } from './store';

function bareNodeUpdate(tableName: string, nodeId: string) {
  // No stats: the node item does not store them (rule S6).
  const names: Record<string, string> = { '#generation': 'generation', '#count': 'trackedCount' };
  const values: Record<string, unknown> = { ':one': 1 };
  const set: string[] = [];
  const condition = ['attribute_exists(pk)'];
  Object.entries(COLUMNS).forEach(([resource, c], i) => {
    Object.assign(names, { [`#c${i}`]: c.claimed, [`#u${i}`]: c.used, [`#h${i}`]: c.headroom });
    values[`:a${i}`] = AMOUNTS[resource as keyof typeof AMOUNTS];
    set.push(`#c${i} = #c${i} + :a${i}`, `#u${i} = #u${i} + :a${i}`, `#h${i} = #h${i} - :a${i}`);
    condition.push(`#h${i} >= :a${i}`);
  });
  return {
    TableName: tableName,
    Key: nodeKey(nodeId),
    UpdateExpression: `SET ${set.join(', ')} ADD #generation :one, #count :one`,
    ConditionExpression: condition.join(' AND '),
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

function bareClaimItems(tableName: string, nodeId: string, instanceUuid: string): TransactWriteCommandInput['TransactItems'] {
  const fingerprint = instanceUuid.replace(/-/g, '');
  const instance = {
    ...instanceKey(nodeId, instanceUuid), type: 'instance', nodeId, instanceUuid, ...AMOUNTS, pciDevices: [],
    vmState: 'active', taskState: 'scheduling', osType: null, projectId: null,
    flavor: { ...FLAVOR, ephemeralGb: 0, swapMb: 0 }, volumeBacked: false, overhead: { memoryMb: 0, diskGb: 0, vcpus: 0 },
    fingerprint, version: 1,
  };
  return [
    { Update: bareNodeUpdate(tableName, nodeId) },
    { Put: { TableName: tableName, Item: instance, ConditionExpression: 'attribute_not_exists(pk)' } },
    {
      Put: {
        TableName: tableName,
        Item: { ...ownerKey(instanceUuid), type: 'owner', nodeId, fingerprint },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  ];
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One bare claim; answers the status the service would give. Conflicts are retried with full jitter, as the service does. */
export async function bareClaim(store: Store, nodeId: string, instanceUuid: string): Promise<number> {
  const command = new TransactWriteCommand({ TransactItems: bareClaimItems(store.tableName, nodeId, instanceUuid) });
  for (let attempt = 1; ; attempt++) {
    try {
      await store.doc.send(command);
      return 201;
    } catch (error) {
      const e = error as { name?: string; CancellationReasons?: { Code?: string }[] };
      const reasons = e.name === 'TransactionCanceledException' ? (e.CancellationReasons ?? []) : [];
      const conflict = e.name === 'TransactionConflictException' || reasons.some((r) => r.Code === 'TransactionConflict');
      if (!conflict) return reasons[0]?.Code === 'ConditionalCheckFailed' ? 409 : 500;
      if (attempt >= 8) return 503;
      await sleep(Math.random() * Math.min(1000, 20 * 2 ** (attempt - 1)));
    }
  }
}

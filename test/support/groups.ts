// A server group's host item on a node, straight from the table (rules G8, G9).
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Store } from '../../lib/store';

/** How many members of the group the node's host item counts. */
export async function groupHostCount(store: Store, nodeId: string, groupId: string): Promise<number> {
  const out = await store.doc.send(
    new QueryCommand({
      TableName: store.tableName,
      KeyConditionExpression: 'pk = :pk AND sk = :sk',
      ExpressionAttributeValues: { ':pk': `NODE#${nodeId}`, ':sk': `GROUP#${groupId}` },
      ConsistentRead: true,
    }),
  );
  return Number(out.Items?.[0]?.members ?? 0);
}

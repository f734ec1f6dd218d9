import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Store } from './client';
import { nodeKey } from './items';
import { withRetry } from './retry';

/** Every item a Query matches, page after page (a page stops at 1 MB), each page retried on its own. */
export async function queryAll(
  store: Store,
  input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await withRetry(store, () =>
      store.doc.send(new QueryCommand({ ...input, TableName: store.tableName, ExclusiveStartKey: start })),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** A node's partition, strongly consistent: all of it, or from sort key `from` on. */
export function readNodePartition(store: Store, nodeId: string, from?: string): Promise<Record<string, unknown>[]> {
  return queryAll(store, {
    KeyConditionExpression: from === undefined ? 'pk = :pk' : 'pk = :pk AND sk >= :from',
    ExpressionAttributeValues: { ':pk': nodeKey(nodeId).pk, ...(from === undefined ? {} : { ':from': from }) },
    ConsistentRead: true,
  });
}

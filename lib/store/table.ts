import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  waitUntilTableExists,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { Store } from './client';

// One table holds everything (see docs/store.md, "The items"). Attribute names of the keys and the index
// are shared with the CDK stack.
export const KEY = { partition: 'pk', sort: 'sk' } as const;
export const NODE_INDEX = { name: 'nodes', partition: 'gsi1pk', sort: 'gsi1sk' } as const;
/** DynamoDB's TTL attribute: a release's tombstone ends there (tombstone.ts); TTL only tidies, nothing waits for it. */
export const TTL_ATTRIBUTE = 'expiresAt';

export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: KEY.partition, AttributeType: 'S' },
      { AttributeName: KEY.sort, AttributeType: 'S' },
      { AttributeName: NODE_INDEX.partition, AttributeType: 'S' },
      { AttributeName: NODE_INDEX.sort, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: KEY.partition, KeyType: 'HASH' },
      { AttributeName: KEY.sort, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: NODE_INDEX.name,
        KeySchema: [
          { AttributeName: NODE_INDEX.partition, KeyType: 'HASH' },
          { AttributeName: NODE_INDEX.sort, KeyType: 'RANGE' },
        ],
        // Keys only: claims rewrite the node item constantly, and a projection of its usage would
        // turn every claim into an index write as well.
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
  };
}

/** Creates the table unless it exists, and waits until it is ACTIVE; returns true if it created it. */
export async function ensureTable(store: Store): Promise<boolean> {
  try {
    await store.client.send(new DescribeTableCommand({ TableName: store.tableName }));
    return false;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException) && (error as Error).name !== 'ResourceNotFoundException')
      throw error;
  }
  await store.client.send(new CreateTableCommand(tableDefinition(store.tableName)));
  // A new table on AWS takes a while to become ACTIVE; DynamoDB Local has it at once.
  await waitUntilTableExists({ client: store.client, maxWaitTime: 120, minDelay: 1 }, { TableName: store.tableName });
  return true;
}

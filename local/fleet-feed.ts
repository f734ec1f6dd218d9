// The local stand-in for the stream's event source mapping (rule G12): reads the table's stream on DynamoDB
// Local, shard by shard, and folds each batch into the fleet summary as the CDK stack's consumer does. A batch
// that fails is read again from the same iterator, as Lambda retries a batch.
import { DescribeTableCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { applyChanges, changesOfRecords, rebuildSummary, type Store } from '../lib/store';

export interface FleetFeed {
  /** Resolves once every change written before the call has been folded. */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

/** The table's stream, turned on if the table (an older one kept in .data/) has none. */
async function streamArn(store: Store): Promise<string> {
  const { Table } = await store.client.send(new DescribeTableCommand({ TableName: store.tableName }));
  if (Table?.LatestStreamArn && Table.StreamSpecification?.StreamEnabled) return Table.LatestStreamArn;
  const out = await store.client.send(
    new UpdateTableCommand({
      TableName: store.tableName,
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  return String(out.TableDescription?.LatestStreamArn);
}

/** Seeds the summary from the node items (a stream shows only changes), then follows the stream. */
export async function startFleetFeed(store: Store, endpoint: string, intervalMs = 250): Promise<FleetFeed> {
  const arn = await streamArn(store);
  const streams = new DynamoDBStreamsClient({
    endpoint,
    region: await store.client.config.region(),
    credentials: await store.client.config.credentials(),
  });
  const iterators = new Map<string, string | undefined>();
  let [stopped, rounds] = [false, 0];

  async function round(): Promise<void> {
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: arn }));
    for (const shard of StreamDescription?.Shards ?? []) {
      const id = String(shard.ShardId);
      if (iterators.has(id)) continue;
      const at = { StreamArn: arn, ShardId: id, ShardIteratorType: 'TRIM_HORIZON' as const };
      iterators.set(id, (await streams.send(new GetShardIteratorCommand(at))).ShardIterator);
    }
    for (const [id, iterator] of iterators) {
      if (!iterator) continue;
      const out = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      await applyChanges(store, changesOfRecords(out.Records ?? []));
      iterators.set(id, out.NextShardIterator);
    }
  }

  await rebuildSummary(store);
  const loop = (async () => {
    while (!stopped) {
      await round().then(
        () => rounds++,
        (error: unknown) => !stopped && console.error('fleet summary feed:', (error as Error).message),
      );
      if (!stopped) await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async caughtUp() {
      // Two whole rounds after the call: the first may have started before the caller's last write.
      const target = rounds + 2;
      while (rounds < target && !stopped) await new Promise((r) => setTimeout(r, 20));
    },
    async stop() {
      stopped = true;
      await loop;
      streams.destroy();
    },
  };
}

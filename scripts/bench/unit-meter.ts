// The write and read units a request would consume in AWS (rules CU1-CU3), from the items themselves: a
// middleware reads each item a write touches before and after it (on a client of its own, not counted),
// and each item a read returns in full. DynamoDB Local's own ConsumedCapacity ignores item sizes.
import {
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  type AttributeValue,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { itemSize, readUnits, writeUnits, type MarshalledItem, type ReadKind } from '../../test/support/item-size';
import { bump, itemKind, type Counts } from './counting';

type Key = Record<string, AttributeValue>;
interface Target {
  table: string;
  key: Key;
  kind: string;
}
interface Input {
  TableName?: string;
  Key?: Key;
  Item?: Key;
  ConsistentRead?: boolean;
  TransactItems?: Record<string, { TableName?: string; Key?: Key; Item?: Key }>[];
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);
const keyOnly = (item: Key | undefined): Key => ({ pk: item?.pk ?? { S: '' }, sk: item?.sk ?? { S: '' } });

export interface Units {
  wcu: number;
  rcu: number;
  /** Write units by the kind of item written (node, instance, owner, ...). */
  wcuByKind: Counts;
  /** The largest image of each kind of item written, in bytes. */
  maxBytes: Counts;
}

export class UnitMeter {
  private units: Units = { wcu: 0, rcu: 0, wcuByKind: {}, maxBytes: {} };
  private readonly raw: DynamoDBClient;

  constructor(endpoint: string) {
    this.raw = new DynamoDBClient({
      endpoint,
      region: process.env.AWS_REGION ?? 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  }

  /** Meters every request of `client` from now on; answers the removal. Only for requests sent one at a time. */
  attach(client: DynamoDBClient): () => void {
    const name = `unitMeter-${Math.random()}`;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName ?? '').replace(/Command$/, '');
        const input = args.input as Input;
        const targets = writeTargets(command, input);
        const before = await Promise.all(targets.map((t) => this.image(t)));
        const out = await next(args);
        const after = await Promise.all(targets.map((t) => this.image(t)));
        const transactional = command === 'TransactWriteItems';
        targets.forEach((t, i) => this.wrote(t.kind, Math.max(before[i] ?? 0, after[i] ?? 0), transactional));
        // Awaited first: `x += await y` would read x before the wait and lose concurrent requests' units.
        const rcu = await this.readCost(command, input);
        this.units.rcu += rcu;
        return out;
      },
      { step: 'finalizeRequest', priority: 'low', name },
    );
    return () => client.middlewareStack.remove(name);
  }

  /** The units since the last call. */
  take(): Units {
    const out = this.units;
    this.units = { wcu: 0, rcu: 0, wcuByKind: {}, maxBytes: {} };
    return out;
  }

  private wrote(kind: string, bytes: number, transactional: boolean): void {
    const units = writeUnits(bytes, transactional);
    this.units.wcu += units;
    bump(this.units.wcuByKind, kind, units);
    this.units.maxBytes[kind] = Math.max(this.units.maxBytes[kind] ?? 0, bytes);
  }

  private async image(t: Target): Promise<number> {
    const out = await this.raw.send(new GetItemCommand({ TableName: t.table, Key: t.key, ConsistentRead: true }));
    return itemSize(out.Item);
  }

  /** Reads are charged by the whole items read, whatever a projection returns. */
  private async readCost(command: string, input: Input): Promise<number> {
    if (command === 'GetItem') {
      const bytes = await this.image({ table: input.TableName ?? '', key: keyOnly(input.Key), kind: '' });
      return readUnits(bytes, input.ConsistentRead ? 'strong' : 'eventual');
    }
    if (command === 'TransactGetItems') {
      const gets = (input.TransactItems ?? []).map((a) => Object.values(a)[0]);
      const sizes = await Promise.all(gets.map((g) => this.image({ table: g?.TableName ?? '', key: keyOnly(g?.Key), kind: '' })));
      return sizes.reduce((n, bytes) => n + readUnits(bytes, 'transactional'), 0);
    }
    if (command === 'BatchGetItem') {
      const tables = Object.entries((input as { RequestItems?: Record<string, { Keys?: Key[]; ConsistentRead?: boolean }> }).RequestItems ?? {});
      const reads = tables.flatMap(([table, r]) => (r.Keys ?? []).map((key) => ({ table, key, strong: r.ConsistentRead })));
      const sizes = await Promise.all(reads.map((r) => this.image({ table: r.table, key: keyOnly(r.key), kind: '' })));
      return sizes.reduce((n, bytes, i) => n + readUnits(bytes, reads[i]?.strong ? 'strong' : 'eventual'), 0);
    }
    if (command !== 'Query') return 0;
    const q = input as QueryCommandInput;
    const full = await this.raw.send(
      new QueryCommand({
        TableName: q.TableName, IndexName: q.IndexName, KeyConditionExpression: q.KeyConditionExpression,
        ExpressionAttributeNames: onlyUsed(q, q.ExpressionAttributeNames),
        ExpressionAttributeValues: onlyUsed(q, q.ExpressionAttributeValues), Limit: q.Limit,
        ExclusiveStartKey: q.ExclusiveStartKey, ScanIndexForward: q.ScanIndexForward, ConsistentRead: q.ConsistentRead,
      }),
    );
    const bytes = (full.Items ?? []).reduce((n, item) => n + itemSize(item as MarshalledItem), 0);
    const kind: ReadKind = q.ConsistentRead ? 'strong' : 'eventual';
    return readUnits(bytes, kind);
  }
}

/** The items a write touches, each with its kind; none for a read. */
function writeTargets(command: string, input: Input): Target[] {
  if (WRITES.has(command)) {
    const key = keyOnly(input.Key ?? input.Item);
    return [{ table: input.TableName ?? '', key, kind: itemKind({ x: { Key: key, Item: input.Item } }) }];
  }
  if (command !== 'TransactWriteItems') return [];
  return (input.TransactItems ?? []).map((action) => {
    const a = Object.values(action)[0];
    return { table: a?.TableName ?? '', key: keyOnly(a?.Key ?? a?.Item), kind: itemKind(action) };
  });
}

// A Query re-sent without its projection and filter may not name what only those used.
const inKeyCondition = (q: QueryCommandInput, placeholder: string) =>
  new RegExp(`${placeholder.replace(/[^\w]/g, '\\$&')}(?!\\w)`).test(q.KeyConditionExpression ?? '');
function onlyUsed<T>(q: QueryCommandInput, map: Record<string, T> | undefined): Record<string, T> | undefined {
  const kept = Object.entries(map ?? {}).filter(([k]) => inKeyCondition(q, k));
  return kept.length ? Object.fromEntries(kept) : undefined;
}

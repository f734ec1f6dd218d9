// DynamoDB's contention, simulated on a DynamoDB Local client (rule CU4). Local serialises transactions and
// never throws TransactionConflict; AWS cancels a transaction that meets another in flight on one of its items.
// Every request here takes a service latency (DynamoDB Local's own time counted in it): a quarter on the way there,
// half in the service, a quarter on the way back. A transaction holds its items while in the service: one that
// arrives while another holds one of its items is cancelled with TransactionConflict on those items, and a
// single-item write to a held item fails with TransactionConflictException. Reads outside transactions see the
// last committed value, as in AWS.
import { performance } from 'node:perf_hooks';
import {
  TransactionCanceledException,
  TransactionConflictException,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

export interface ContentionOptions {
  /** The service time of every request, in ms (about 10 ms for a transaction in AWS). */
  latencyMs?: number;
}

export interface ContentionCounts {
  requests: number;
  transactions: number;
  /** Transactions cancelled with TransactionConflict. */
  cancelled: number;
  /** Single-item writes refused with TransactionConflictException. */
  singleWrites: number;
}

type Key = Record<string, AttributeValue>;
interface Input {
  TableName?: string;
  Key?: Key;
  Item?: Key;
  TransactItems?: Record<string, { TableName?: string; Key?: Key; Item?: Key }>[];
}

const TRANSACTIONS = new Set(['TransactWriteItemsCommand', 'TransactGetItemsCommand']);
const SINGLE_WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

const keyOf = (table: string | undefined, item: Key | undefined) =>
  `${table ?? ''}|${JSON.stringify(item?.pk ?? null)}|${JSON.stringify(item?.sk ?? null)}`;

/** The items of a transaction, in the order of its actions. */
function transactionKeys(input: Input): string[] {
  return (input.TransactItems ?? []).map((action) => {
    const a = Object.values(action)[0];
    return keyOf(a?.TableName, a?.Key ?? a?.Item);
  });
}

export class Contention {
  readonly latencyMs: number;
  readonly counts: ContentionCounts = { requests: 0, transactions: 0, cancelled: 0, singleWrites: 0 };
  /** Items held by transactions in flight, with how many hold each. */
  private readonly held = new Map<string, number>();

  constructor(options: ContentionOptions = {}) {
    this.latencyMs = options.latencyMs ?? 10;
  }

  /**
   * Installs the simulation on `client`, inside the SDK's own steps (after any counting middleware in
   * finalizeRequest), so that the failures look to the store and to counters like DynamoDB's. Answers its removal.
   */
  attach(client: DynamoDBClient): () => void {
    const name = `contention-${Math.random()}`;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName ?? '');
        const input = args.input as Input;
        this.counts.requests++;
        if (TRANSACTIONS.has(command)) return this.transaction(transactionKeys(input), () => next(args));
        if (SINGLE_WRITES.has(command))
          return this.singleWrite(keyOf(input.TableName, input.Key ?? input.Item), () => next(args));
        return this.serve(() => next(args));
      },
      { step: 'deserialize', priority: 'high', name },
    );
    return () => client.middlewareStack.remove(name);
  }

  /** The way to DynamoDB or back: a quarter of the latency each. */
  private transit(): Promise<void> {
    return sleep(this.latencyMs / 4);
  }

  /** A request takes the modelled latency, DynamoDB Local's own time counted in it (the larger of the two). */
  private async serve<T>(send: () => Promise<T>): Promise<T> {
    const start = performance.now();
    const out = await send();
    await sleep(this.latencyMs - (performance.now() - start));
    return out;
  }

  private async singleWrite<T>(key: string, send: () => Promise<T>): Promise<T> {
    await this.transit();
    if (!this.held.has(key)) return this.serve(send);
    this.counts.singleWrites++;
    await this.transit();
    throw new TransactionConflictException({
      message: 'Transaction is ongoing for the item (simulated)',
      $metadata: { httpStatusCode: 400 },
    });
  }

  /**
   * A transaction reaches DynamoDB after a quarter of the latency and holds its items for half of it (however
   * long DynamoDB Local itself takes: Local serialises what overlaps it anyway), then its answer takes the last
   * quarter back. One that arrives while another holds one of its items is cancelled on arrival.
   */
  private async transaction<T>(keys: string[], send: () => Promise<T>): Promise<T> {
    this.counts.transactions++;
    await this.transit();
    const conflicts = keys.map((k) => this.held.has(k));
    if (conflicts.some(Boolean)) {
      this.counts.cancelled++;
      await this.transit();
      throw new TransactionCanceledException({
        message: 'Transaction cancelled, please refer cancellation reasons for specific reasons (simulated)',
        $metadata: { httpStatusCode: 400 },
        CancellationReasons: conflicts.map((c) => ({ Code: c ? 'TransactionConflict' : 'None' })),
      });
    }
    for (const k of keys) this.held.set(k, (this.held.get(k) ?? 0) + 1);
    const release = sleep(this.latencyMs / 2).then(() => {
      for (const k of keys) {
        const n = (this.held.get(k) ?? 1) - 1;
        if (n) this.held.set(k, n);
        else this.held.delete(k);
      }
    });
    try {
      return await send();
    } finally {
      await release;
      await this.transit();
    }
  }
}

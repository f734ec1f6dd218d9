// Read units of the requests a client sends, estimated from the sizes of the (marshalled) items read: DynamoDB Local reports
// no item-size-based consumption. An item's size is taken as the length of its JSON (names and values, a little
// above DynamoDB's own count), so the figures are upper estimates. Rules: GetItem and BatchGetItem per item
// (1 unit per started 4 KB strongly consistent, half that eventually, and a missing item costs the minimum), a
// Query per page on the summed size, TransactGetItems twice the strong figure.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const BLOCK = 4096;
type Input = {
  ConsistentRead?: boolean;
  RequestItems?: Record<string, { Keys?: unknown[]; ConsistentRead?: boolean }>;
  TransactItems?: unknown[];
};
type Output = { Item?: unknown; Items?: unknown[]; Responses?: Record<string, unknown[]> | { Item?: unknown }[] };

const size = (item: unknown) => (item === undefined ? 0 : JSON.stringify(item).length);
const per = (bytes: number, consistent: boolean) => Math.max(1, Math.ceil(bytes / BLOCK)) * (consistent ? 1 : 0.5);

export function unitsOf(command: string, input: Input, output: Output): number {
  switch (command) {
    case 'GetItem':
      return per(size(output.Item), input.ConsistentRead === true);
    case 'Query':
    case 'Scan':
      return per((output.Items ?? []).reduce((n: number, i) => n + size(i), 0), input.ConsistentRead === true);
    case 'BatchGetItem':
      return Object.entries(input.RequestItems ?? {}).reduce((n, [table, { Keys = [], ConsistentRead }]) => {
        const found = ((output.Responses as Record<string, unknown[]> | undefined)?.[table] ?? []).map(size);
        const missing = Keys.length - found.length;
        return n + found.reduce((m, b) => m + per(b, ConsistentRead === true), 0) + per(0, ConsistentRead === true) * missing;
      }, 0);
    case 'TransactGetItems':
      return ((output.Responses ?? []) as { Item?: unknown }[]).reduce((n, r) => n + 2 * per(size(r.Item), true), 0);
    default:
      return 0;
  }
}

/** Sums the read units of every answered request of the client. */
export class ReadUnitMeter {
  private units = 0;

  /** Meters `client` from now on; answers the removal. */
  attach(client: DynamoDBClient): () => void {
    const name = `benchReadUnits-${Math.random()}`;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const command = String(context.commandName ?? '').replace(/Command$/, '');
        this.units += unitsOf(command, args.input as Input, result.output as Output);
        return result;
      },
      { step: 'finalizeRequest', priority: 'low', name },
    );
    return () => client.middlewareStack.remove(name);
  }

  /** The units since the last call. */
  take(): number {
    const out = this.units;
    this.units = 0;
    return out;
  }
}

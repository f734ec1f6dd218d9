// Counting DynamoDB requests: a middleware on the client, after the SDK's retry step, so every HTTP
// attempt counts once under its command name.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTable, DEVICE_PREFIX, type Store } from './store';

export type Counts = Record<string, number>;
export const bump = (counts: Counts, key: string, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};
export class RequestCounter {
  private requests: Counts = {};
  private failures: Counts = {};
  private cancelled: Counts = {};

  attach(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName ?? 'unknown').replace(/Command$/, '');
        bump(this.requests, command);
        try {
          return await next(args);
        } catch (error) {
          bump(this.failures, `${command} ${(error as Error).name}`);
          const why = cancelledItems(args.input, error);
          if (why) bump(this.cancelled, why);
          throw error;
        }
      },
      { step: 'finalizeRequest', priority: 'low', name: 'benchRequestCounter' },
    );
  }

  /** The counts since the last call. */
  take(): { byCommand: Counts; failures: Counts; cancelled: Counts } {
    const out = { byCommand: this.requests, failures: this.failures, cancelled: this.cancelled };
    this.requests = {};
    this.failures = {};
    this.cancelled = {};
    return out;
  }
}

/** An attribute as the middleware sees it: marshalled (`{ S: 'x' }`) by the document client by then. */
export const attributeText = (v: unknown) => String(v && typeof v === 'object' && 'S' in v ? (v as { S: unknown }).S : (v ?? ''));

/** What a transaction item writes: node, instance, owner, hold, or for a device its type (PF, VF, PCI). */
export function itemKind(item: Record<string, { Key?: Record<string, unknown>; Item?: Record<string, unknown> }> | undefined): string {
  const action = item ? Object.values(item)[0] : undefined;
  const sk = attributeText((action?.Key ?? action?.Item)?.sk);
  if (sk.startsWith(DEVICE_PREFIX)) return attributeText(action?.Item?.deviceType).replace(/^type-/, '') || 'device';
  const prefix = sk.split('#')[0] ?? '';
  return prefix === 'MOVE' ? 'hold' : prefix.toLowerCase() || 'unknown';
}

/**
 * Why a transaction was cancelled, by the items that failed, e.g. `ConditionalCheckFailed on PF+VF`
 * (a device claim whose VF and parent PF had both changed since they were read). Undefined for other errors.
 */
export function cancelledItems(input: unknown, error: unknown): string | undefined {
  const e = error as { name?: string; CancellationReasons?: { Code?: string }[] };
  if (e?.name !== 'TransactionCanceledException') return undefined;
  const items = (input as { TransactItems?: Parameters<typeof itemKind>[0][] }).TransactItems ?? [];
  const byCode = new Map<string, Set<string>>();
  (e.CancellationReasons ?? []).forEach((r, i) => {
    if (!r.Code || r.Code === 'None') return;
    const kinds = byCode.get(r.Code) ?? new Set<string>();
    byCode.set(r.Code, kinds.add(itemKind(items[i])));
  });
  return [...byCode].map(([code, kinds]) => `${code} on ${[...kinds].sort().join('+')}`).sort().join(', ') || 'no reason given';
}

export const counter = new RequestCounter();

/** Counts as text, e.g. `200×201, 8×409`. */
export const counts = (c: Counts) =>
  Object.entries(c).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${v}×${k}`).join(', ') || '-';

/** A fresh table (see createTable), the requests of both its clients counted. */
export async function openTable(prefix: string): Promise<Store> {
  const { store, handlersClient } = await createTable(prefix);
  counter.attach(handlersClient);
  counter.attach(store.client);
  return store;
}

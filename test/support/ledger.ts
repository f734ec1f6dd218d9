// Reads a node's ledger straight from the table and checks it adds up (the bench reads partitions with this too;
// the arithmetic is ledger-check.ts's, which it shares as well).
import { paginateQuery } from '@aws-sdk/lib-dynamodb';
import { getNode, type Store } from '../../lib/store';
import {
  cellDiscrepancies,
  ledgerDiscrepancies,
  nodeLedgerOf,
  statsDiscrepancies,
  type NodeLedger,
} from './ledger-check';

export type LedgerCheck = NodeLedger;

/** Every item of a node's partition, read strongly consistent, every page of it. */
export async function partition(store: Store, nodeId: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const input = {
    TableName: store.tableName,
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': `NODE#${nodeId}` },
    ConsistentRead: true,
  };
  for await (const page of paginateQuery({ client: store.doc }, input)) items.push(...(page.Items ?? []));
  return items;
}

export async function readLedger(store: Store, nodeId: string): Promise<LedgerCheck> {
  const read = nodeLedgerOf(await partition(store, nodeId));
  if (!read) throw new Error(`node ${nodeId} has no item`);
  return read.ledger;
}

/**
 * Usage = reserved + the sum of the instance records and move holds, headroom = limit - used, claimed = the
 * sum; every NUMA cell's usage and pins are those of the records and holds (cellDiscrepancies); and the node's
 * view shows the stats of the records, none stored on the node item (statsDiscrepancies).
 */
export async function expectLedgerExact(store: Store, nodeId: string): Promise<LedgerCheck> {
  const items = await partition(store, nodeId);
  const read = nodeLedgerOf(items);
  if (!read) throw new Error(`node ${nodeId} has no item`);
  const { stats } = await getNode(store, nodeId);
  const discrepancies = [
    ...ledgerDiscrepancies(read.ledger),
    ...cellDiscrepancies(items),
    ...statsDiscrepancies(read.ledger, read.nodeItem, stats),
  ];
  expect({ nodeId, discrepancies }).toEqual({ nodeId, discrepancies: [] });
  return read.ledger;
}

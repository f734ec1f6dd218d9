// Reads a node's ledger straight from the table and checks it adds up (the arithmetic is ledger-check.ts's,
// which the bench shares).
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Store } from '../../lib/store';
import { ledgerDiscrepancies, nodeLedgerOf, type NodeLedger } from './ledger-check';

export type LedgerCheck = NodeLedger;

export async function readLedger(store: Store, nodeId: string): Promise<LedgerCheck> {
  const out = await store.doc.send(
    new QueryCommand({
      TableName: store.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `NODE#${nodeId}` },
      ConsistentRead: true,
    }),
  );
  const read = nodeLedgerOf(out.Items ?? []);
  if (!read) throw new Error(`node ${nodeId} has no item`);
  return read.ledger;
}

/** Usage = reserved + the sum of the instance records and move holds, headroom = limit - used, claimed = the sum. */
export async function expectLedgerExact(store: Store, nodeId: string): Promise<LedgerCheck> {
  const ledger = await readLedger(store, nodeId);
  expect({ nodeId, discrepancies: ledgerDiscrepancies(ledger) }).toEqual({ nodeId, discrepancies: [] });
  return ledger;
}

// The checks after each run: the ledger exact (the arithmetic shared with the tests), and the status codes
// as expected.
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { RESOURCES, ZERO, type Amounts } from '../../lib/domain';
import { boundsDiscrepancies, ledgerDiscrepancies, nodeLedgerOf } from '../../test/support/ledger-check';
import { counts, type Counts } from './counting';
import { call, getNodeHandler, httpEvent } from './handlers';
import type { Measured } from './measure';
import { partition, type Store } from './store';

export interface LedgerCheck {
  table: string;
  /** When it ran, for a table checked more than once (the resize runs check between their steps). */
  stage?: string;
  nodes: number;
  instanceRecords: number;
  expectedRecords: number;
  holds: number;
  expectedHolds: number;
  ok: boolean;
  problems: string[];
  /** For a PCI node: its pools as GET /nodes/{id} showed them. */
  pools?: string;
}

/** What a check expects over the whole table: records, move holds, optionally the claims summed over nodes and nodes that hold nothing. */
export interface LedgerExpectation {
  records: number;
  holds?: number;
  claimed?: Amounts;
  empty?: string[];
  stage?: string;
}

/**
 * Per node the ledger arithmetic the tests check (test/support/ledger-check.ts), usage within the limits
 * and the view's stats counting the records; over the table, the records number the claims that succeeded (less those
 * released), the holds the moves under way, and the claims (if given) add up to what the moves should have left.
 */
export async function checkLedger(store: Store, nodeIds: string[], expected: LedgerExpectation): Promise<LedgerCheck> {
  const problems: string[] = [];
  const expectedHolds = expected.holds ?? 0;
  let [records, holds] = [0, 0];
  const total: Amounts = { ...ZERO };
  for (const nodeId of nodeIds) {
    const read = nodeLedgerOf(await partition(store, nodeId));
    if (!read) {
      problems.push(`${nodeId}: no node item`);
      continue;
    }
    const { ledger, nodeItem } = read;
    records += ledger.instances.length;
    holds += ledger.holds.length;
    total.vcpus += ledger.node.vcpusClaimed;
    total.memoryMb += ledger.node.memoryMbClaimed;
    total.diskGb += ledger.node.localGbClaimed;
    // The stats are checked through the node's view, which computes them from the records (rule S6).
    const view = await call<{ stats: Record<string, number> }>(getNodeHandler, 'get-node', httpEvent('GET', '/nodes/{nodeId}', { nodeId }));
    const found = [...ledgerDiscrepancies(ledger), ...boundsDiscrepancies(ledger, nodeItem, view.body.stats ?? {})];
    problems.push(...found.map((p) => `${nodeId}: ${p}`));
    const tracked = ledger.instances.length + ledger.holds.length;
    if (expected.empty?.includes(nodeId) && tracked) problems.push(`${nodeId}: should be empty, holds ${tracked} items`);
  }
  if (records !== expected.records) problems.push(`${records} instance records, expected ${expected.records}`);
  if (holds !== expectedHolds) problems.push(`${holds} move holds, expected ${expectedHolds}`);
  for (const r of expected.claimed ? RESOURCES : []) {
    if (total[r] !== expected.claimed?.[r]) problems.push(`${r} claimed over all nodes ${total[r]}, expected ${expected.claimed?.[r]}`);
  }
  return {
    table: store.tableName, ...(expected.stage ? { stage: expected.stage } : {}), nodes: nodeIds.length,
    instanceRecords: records, expectedRecords: expected.records, holds, expectedHolds, ok: problems.length === 0, problems,
  };
}

/** Checks the table, then deletes it, so that every run starts from a database of the same size. */
export async function checkAndDrop(store: Store, nodeIds: string[], expected: LedgerExpectation): Promise<LedgerCheck> {
  const check = await checkLedger(store, nodeIds, expected);
  await store.client.send(new DeleteTableCommand({ TableName: store.tableName }));
  return check;
}

export interface Expectation {
  what: string;
  ok: boolean;
}

export function expectStatuses(what: string, m: Measured, expected: Counts): Expectation {
  const ok = JSON.stringify(Object.entries(m.statuses).sort()) === JSON.stringify(Object.entries(expected).sort());
  return { what: `${what}: ${counts(m.statuses)}${ok ? '' : ` (expected ${counts(expected)})`}`, ok };
}

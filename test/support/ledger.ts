// Reads a node's ledger straight from the table and checks it adds up.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { onGrid } from '../../lib/domain';
import type { Store } from '../../lib/store';

const FIGURES = [
  'vcpus', 'memoryMb', 'localGb', 'cpuAllocationRatio', 'ramAllocationRatio', 'diskAllocationRatio',
  'reservedHostMemoryMb', 'reservedHostDiskMb', 'reservedHostCpus', 'vcpusClaimed', 'memoryMbClaimed', 'localGbClaimed',
  'vcpusUsed', 'memoryMbUsed', 'localGbUsed', 'vcpusHeadroom', 'memoryMbHeadroom', 'localGbHeadroom',
  'trackedCount', 'generation', 'orphanMemoryMb',
] as const;
type NodeFigures = Record<(typeof FIGURES)[number], number>;

export interface LedgerCheck {
  node: NodeFigures;
  instances: Record<string, unknown>[];
  /** Move holds (resize, migration, evacuation) the node keeps besides its instances. */
  holds: Record<string, unknown>[];
  /** Instances and holds together: what the node's usage must add up to. */
  sum: { memoryMb: number; diskGb: number; vcpus: number };
}

export async function readLedger(store: Store, nodeId: string): Promise<LedgerCheck> {
  const out = await store.doc.send(
    new QueryCommand({
      TableName: store.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `NODE#${nodeId}` },
      ConsistentRead: true,
    }),
  );
  const items = out.Items ?? [];
  const item = items.find((i) => i.sk === 'NODE');
  if (!item) throw new Error(`node ${nodeId} has no item`);
  const node = Object.fromEntries(FIGURES.map((f) => [f, Number(item[f] ?? 0)])) as NodeFigures;
  const instances = items.filter((i) => String(i.sk).startsWith('INSTANCE#'));
  const holds = items.filter((i) => String(i.sk).startsWith('MOVE#'));
  const sum = { memoryMb: 0, diskGb: 0, vcpus: 0 };
  for (const i of [...instances, ...holds]) {
    sum.memoryMb += Number(i.memoryMb);
    sum.diskGb += Number(i.diskGb);
    sum.vcpus += Number(i.vcpus);
  }
  return { node, instances, holds, sum };
}

/** Usage = reserved + the sum of the instance records and move holds, headroom = limit - used, claimed = the sum. */
export async function expectLedgerExact(store: Store, nodeId: string): Promise<LedgerCheck> {
  const ledger = await readLedger(store, nodeId);
  const { node, sum, instances, holds } = ledger;
  expect(node.vcpusClaimed).toBeCloseTo(sum.vcpus, 9);
  // Orphans (instances the hypervisor runs that nobody claimed) hold memory too, once an audit saw them.
  expect(node.memoryMbClaimed).toBeCloseTo(sum.memoryMb + node.orphanMemoryMb, 9);
  expect(node.localGbClaimed).toBeCloseTo(sum.diskGb, 9);
  expect(node.vcpusUsed).toBeCloseTo(node.reservedHostCpus + sum.vcpus, 9);
  expect(node.memoryMbUsed).toBeCloseTo(node.reservedHostMemoryMb + sum.memoryMb + node.orphanMemoryMb, 9);
  expect(node.localGbUsed).toBeCloseTo(Math.floor(node.reservedHostDiskMb / 1024) + sum.diskGb, 9);
  // Headroom is kept against the limit rounded down to the ledger's 1/1024 grid, exactly.
  expect(node.vcpusHeadroom).toBe(onGrid(node.vcpus * node.cpuAllocationRatio) - node.vcpusUsed);
  expect(node.memoryMbHeadroom).toBe(onGrid(node.memoryMb * node.ramAllocationRatio) - node.memoryMbUsed);
  expect(node.localGbHeadroom).toBe(onGrid(node.localGb * node.diskAllocationRatio) - node.localGbUsed);
  expect(node.trackedCount).toBe(instances.length + holds.length);
  return ledger;
}

// PCI devices straight from the table: who holds what, whether the node's pools add up, and a gate that
// holds one transaction back so a test can run another write in between.
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { byAddress, pools, type PciDevice, type PciPool } from '../../lib/domain';
import { layout, type Store } from '../../lib/store';
import { expectLedgerExact } from './ledger';
import { deviceDiscrepancies } from './ledger-check';

export async function readDevices(store: Store, nodeId: string): Promise<PciDevice[]> {
  const out = await store.doc.send(
    new QueryCommand({
      TableName: store.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :pci)',
      ExpressionAttributeValues: { ':pk': `NODE#${nodeId}`, ':pci': 'PCI#' },
      ConsistentRead: true,
    }),
  );
  return (out.Items ?? []).map(layout.deviceOf);
}

/** The pools as the node item stores them, leaving out those emptied to 0/0. */
async function storedPools(store: Store, nodeId: string): Promise<Record<string, PciPool>> {
  const out = await store.doc.send(
    new GetCommand({ TableName: store.tableName, Key: { pk: `NODE#${nodeId}`, sk: 'NODE' }, ConsistentRead: true }),
  );
  const stored = (out.Item?.pciPools ?? {}) as Record<string, PciPool>;
  return Object.fromEntries(Object.entries(stored).filter(([, p]) => p.count !== 0 || p.free !== 0));
}

/**
 * The ledger is exact, the stored pools are what the devices make them, every device an instance holds
 * is listed in its record and no device is listed twice.
 */
export async function expectPciExact(store: Store, nodeId: string) {
  const { node, instances } = await expectLedgerExact(store, nodeId);
  const devices = await readDevices(store, nodeId);
  expect(await storedPools(store, nodeId)).toEqual(Object.fromEntries(pools(byAddress(devices))));
  expect({ nodeId, discrepancies: deviceDiscrepancies(devices, instances) }).toEqual({ nodeId, discrepancies: [] });
  return { node, instances, devices };
}

/**
 * Holds back the first TransactWriteItems on `store`'s client that `matches` picks, until `release()`;
 * `reached` resolves once it is held.
 */
export function holdTransaction(store: Store, matches: (items: Record<string, Record<string, unknown>>[]) => boolean) {
  const name = `hold-${Math.random()}`;
  let held = false;
  let arrive = () => {};
  let release = () => {};
  const reached = new Promise<void>((r) => (arrive = r));
  const gate = new Promise<void>((r) => (release = r));
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      const items = (args.input as { TransactItems?: Record<string, Record<string, unknown>>[] }).TransactItems;
      if (held || context.commandName !== 'TransactWriteItemsCommand' || !items || !matches(items)) return next(args);
      held = true;
      arrive();
      await gate;
      return next(args);
    },
    { step: 'initialize', name },
  );
  return { reached, release, remove: () => store.client.middlewareStack.remove(name) };
}

/** Picks the transaction that puts (claim) or deletes (release) an instance record, marshalled or not. */
export const touchesInstance = (op: 'Put' | 'Delete') => (items: Record<string, Record<string, unknown>>[]) =>
  items.some((i) => {
    const sk = ((op === 'Put' ? i.Put?.Item : i.Delete?.Key) as { sk?: string | { S?: string } } | undefined)?.sk;
    return (typeof sk === 'string' ? sk : (sk?.S ?? '')).startsWith('INSTANCE#');
  });

// Write and read units per operation (rules CU1-CU3): every operation through its handler, one at a time, on a
// node already hosting SETTINGS.units.instances instances of as many projects, the units metered from the items.
import { randomUUID } from 'node:crypto';
import { checkAndDrop, type LedgerCheck } from './checks';
import { openTable } from './counting';
import {
  auditHandler, changeStatus, claimEvent, claimHandler, getNodeHandler, httpEvent, instanceEvent, invoke, moveClaimEvent,
  moveClaimHandler, putNodeHandler, releaseHandler, updateHandler,
} from './handlers';
import { drive, measure, type Measured, type Op } from './measure';
import { PATCH_BODY, PCI_NODE, ROOMY_NODE, SETTINGS, VF_REQUEST } from './settings';
import { currentEndpoint, handlersClient, nodeKey, partition } from './store';
import { UnitMeter, type Units } from './unit-meter';
import { itemSize } from '../../test/support/item-size';
import { marshall } from '@aws-sdk/util-dynamodb';

export interface OperationUnits {
  operation: string;
  measured: Measured;
  wcuPerOp: number;
  rcuPerOp: number;
  wcuByKindPerOp: Record<string, number>;
  maxBytes: Record<string, number>;
}

export interface UnitFigures {
  instances: number;
  /** The node item's size after the set-up and after every operation ran. */
  nodeItemBytes: { hosting: number; after: number };
  operations: OperationUnits[];
  check: LedgerCheck;
}

/** A Keystone project id: 32 hex digits. */
const projectId = () => randomUUID().replace(/-/g, '');

async function nodeItemBytes(store: Parameters<typeof partition>[0], nodeId: string): Promise<number> {
  const item = (await partition(store, nodeId)).find((i) => i.sk === nodeKey(nodeId).sk);
  return itemSize(marshall(item ?? {}, { removeUndefinedValues: true }));
}

export async function unitRuns(): Promise<UnitFigures> {
  const { instances, repeats: n } = SETTINGS.units;
  const store = await openTable('units');
  const [nodeId, pciNode] = ['units-node', 'units-pci-node'];
  const put = (id: string, inventory: object) =>
    invoke(putNodeHandler, 'put-node', httpEvent('PUT', '/nodes/{nodeId}', { nodeId: id }, inventory));
  await put(nodeId, ROOMY_NODE);
  await put(pciNode, PCI_NODE);
  const claim = (id: string, uuid: string, minimal: boolean, extra: object = {}) =>
    invoke(claimHandler, 'claim-instance', claimEvent(id, uuid, minimal, { projectId: projectId(), osType: 'linux', ...extra }));
  const hosted = Array.from({ length: instances }, () => randomUUID());
  const { statuses } = await drive(`units: ${instances} instances of as many projects`, instances, 8, (i) =>
    claim(nodeId, hosted[i] ?? '', true),
  );
  if (statuses['201'] !== instances) throw new Error(`units set-up answered ${JSON.stringify(statuses)}`);
  const hosting = await nodeItemBytes(store, nodeId);

  const meter = new UnitMeter(currentEndpoint());
  const remove = meter.attach(handlersClient());
  const operations: OperationUnits[] = [];
  const run = async (operation: string, op: Op) => {
    meter.take();
    const measured = await measure(operation, 1, store.tableName, n, 1, op);
    operations.push(perOp(operation, measured, meter.take(), n));
  };
  const fresh = Array.from({ length: n }, () => randomUUID());
  const viewed = Array.from({ length: n }, () => randomUUID());
  const migrations = Array.from({ length: n }, () => `units-${randomUUID()}`);
  const pci = Array.from({ length: n }, () => randomUUID());
  try {
    await run('PUT node (inventory unchanged)', () => put(nodeId, ROOMY_NODE));
    await run('claim (return=minimal)', (i) => claim(nodeId, fresh[i] ?? '', true));
    await run('claim (node view)', (i) => claim(nodeId, viewed[i] ?? '', false));
    await run('GET node', () => invoke(getNodeHandler, 'get-node', httpEvent('GET', '/nodes/{nodeId}', { nodeId })));
    await run('PATCH instance', (i) => invoke(updateHandler, 'update-instance', instanceEvent('PATCH', nodeId, fresh[i] ?? '', PATCH_BODY)));
    await run('DELETE instance', (i) => invoke(releaseHandler, 'release-instance', instanceEvent('DELETE', nodeId, fresh[i] ?? '')));
    await run('move claim (same-host resize)', (i) =>
      invoke(moveClaimHandler, 'claim-move', moveClaimEvent(nodeId, nodeId, viewed[i] ?? '', migrations[i] ?? '')),
    );
    await run('status migrating (the status alone)', (i) => changeStatus(migrations[i] ?? '', 'migrating'));
    await run('status confirmed', (i) => changeStatus(migrations[i] ?? '', 'confirmed'));
    await run('audit (nothing to repair)', () =>
      invoke(auditHandler, 'audit-node', httpEvent('POST', '/nodes/{nodeId}/audit', { nodeId }, {})),
    );
    await run('PCI claim, 1 VF', (i) => claim(pciNode, pci[i] ?? '', true, { pciRequests: [VF_REQUEST] }));
    await run('PCI release', (i) => invoke(releaseHandler, 'release-instance', instanceEvent('DELETE', pciNode, pci[i] ?? '')));
  } finally {
    remove();
  }
  const after = await nodeItemBytes(store, nodeId);
  const check = await checkAndDrop(store, [nodeId, pciNode], { records: instances + n });
  return { instances, nodeItemBytes: { hosting, after }, operations, check };
}

function perOp(operation: string, measured: Measured, units: Units, n: number): OperationUnits {
  const per = (c: Record<string, number>) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v / n]));
  return {
    operation, measured, wcuPerOp: units.wcu / n, rcuPerOp: units.rcu / n, wcuByKindPerOp: per(units.wcuByKind),
    maxBytes: units.maxBytes,
  };
}

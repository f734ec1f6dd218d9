// PCI devices through the handlers: claims of one VF each on one node, and the checks of its devices.
import { randomUUID } from 'node:crypto';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { scale, type PciPool } from '../../lib/domain';
import { deviceDiscrepancies } from '../../test/support/ledger-check';
import { checkLedger, type LedgerCheck } from './checks';
import { call, claimEvent, claimHandler, getNodeHandler, httpEvent, instanceEvent, invoke, releaseHandler } from './handlers';
import { registerNodes, stepper, type StepRun } from './loads';
import type { Bursts } from './measure';
import { AMOUNTS, PCI_DEVICES, PCI_NODE, SETTINGS, VF_PARENT, VF_REQUEST } from './settings';
import { openTable } from './counting';
import { DEVICE_PREFIX, deviceOf, INSTANCE_PREFIX, partition, type Store } from './store';

export type PciVariant = 'steady' | 'bursts';
export type PciRun = StepRun<PciVariant>;

/**
 * Claims of one VF each on one node through the handlers, every 201's devices collected from its answer.
 * steady: `claims` claims at SETTINGS.pci.concurrency, all released (DELETE), then claimed again. bursts:
 * `claims` claims on a fresh node in the bursts of SETTINGS.pci.bursts. Checked after every step.
 */
export async function pciRun(prefix: string, variant: PciVariant, claims: number): Promise<PciRun> {
  const { concurrency, bursts } = SETTINGS.pci;
  // A node name of its own: the copy of a node's devices is kept per node id, whatever the table.
  const nodeId = `${prefix}-${variant}-node`;
  const store = await openTable(`${prefix}-${variant}`);
  await registerNodes([nodeId], PCI_NODE);
  const run: PciRun = { variant, steps: [], checks: [], expectations: [] };
  const step = stepper(run, 'pci', store.tableName, claims, concurrency);
  // The devices each claimed instance holds, by its answers: a 201 adds the instance, a 204 removes it.
  const held = new Map<string, string[]>();
  const check = async (stage: string) => run.checks.push(await checkPci(store, nodeId, [...held.values()], stage));
  const claimAll = async (name: string, shape?: Bursts) => {
    const uuids = Array.from({ length: claims }, () => randomUUID());
    await step(name, 201, async (i) => {
      const event = claimEvent(nodeId, uuids[i] ?? '', true, { pciRequests: [VF_REQUEST] });
      const { status, body } = await call<{ pciDevices: string[] }>(claimHandler, 'claim-instance', event);
      if (status === 201) held.set(uuids[i] ?? '', body.pciDevices ?? []);
      return status;
    }, shape);
    await check(`after ${name}`);
    return uuids;
  };
  if (variant === 'bursts') {
    await claimAll(`claim 1 VF, ${claims / bursts.size} bursts of ${bursts.size}`, bursts);
  } else {
    const uuids = await claimAll('claim 1 VF (return=minimal)');
    await step('DELETE instance (release)', 204, async (i) => {
      const status = await invoke(releaseHandler, 'release-instance', instanceEvent('DELETE', nodeId, uuids[i] ?? ''));
      if (status === 204) held.delete(uuids[i] ?? '');
      return status;
    });
    await check('after releases');
    await claimAll('claim 1 VF again');
  }
  await store.client.send(new DeleteTableCommand({ TableName: store.tableName }));
  return run;
}

/**
 * The node's ledger is exact with the claimed instances, `assigned` their devices as answered (device
 * items, under sk PCI#, count as no usage), and its devices agree: no device held twice, one VF each, the
 * table's owners those of the instance records, each PF's busy count its VFs held, and GET /nodes/{id}
 * shows VFs free = VFs - held and PFs free = the PFs none of whose VFs is held.
 */
export async function checkPci(store: Store, nodeId: string, assigned: string[][], stage: string): Promise<LedgerCheck> {
  const held = assigned.flat();
  const check = await checkLedger(store, [nodeId], { records: assigned.length, claimed: scale(AMOUNTS, assigned.length), stage: `pci ${stage}` });
  const problems = check.problems;
  const twice = [...new Set(held.filter((a, i) => held.indexOf(a) !== i))];
  if (twice.length) problems.push(`assigned twice: ${twice.join(', ')}`);
  if (assigned.some((a) => a.length !== 1 || !VF_PARENT.has(a[0] ?? ''))) problems.push('an answer without exactly one VF');
  const items = await partition(store, nodeId);
  const devices = items.filter((i) => String(i.sk).startsWith(DEVICE_PREFIX)).map(deviceOf);
  if (devices.length !== PCI_DEVICES.length) problems.push(`${devices.length} device items, expected ${PCI_DEVICES.length}`);
  const owners = devices.filter((d) => d.owner !== undefined).map((d) => `${d.address}=${d.owner}`).sort();
  const records = items.filter((i) => String(i.sk).startsWith(INSTANCE_PREFIX));
  problems.push(...deviceDiscrepancies(devices, records));
  if (JSON.stringify(owners.map((o) => o.split('=')[0])) !== JSON.stringify([...held].sort())) {
    problems.push(`devices held in the table (${owners.length}) != devices answered (${held.length})`);
  }
  const { body } = await call<{ pciDevicePools: PciPool[] }>(getNodeHandler, 'get-node', httpEvent('GET', '/nodes/{nodeId}', { nodeId }));
  const pfs = SETTINGS.pci.pfs;
  const expected = {
    'type-VF': { count: VF_PARENT.size, free: VF_PARENT.size - held.length },
    'type-PF': { count: pfs, free: pfs - new Set(held.map((a) => VF_PARENT.get(a))).size },
  };
  const seen: string[] = [];
  for (const [type, want] of Object.entries(expected)) {
    const pool = (body.pciDevicePools ?? []).find((p) => p.deviceType === type);
    const got = { count: pool?.count, free: pool?.free };
    seen.push(`${type} ${got.free}/${got.count} free`);
    if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${type} pool ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  return { ...check, ok: problems.length === 0, pools: seen.join(', ') };
}


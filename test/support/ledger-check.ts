// The ledger arithmetic, once, for the tests (ledger.ts turns it into expectations) and the bench (which
// reports it): pure functions of a node's partition as the table holds it, each answering the list of
// discrepancies, empty when the ledger adds up.
import { onGrid } from '../../lib/domain';

const FIGURES = [
  'vcpus',
  'memoryMb',
  'localGb',
  'cpuAllocationRatio',
  'ramAllocationRatio',
  'diskAllocationRatio',
  'reservedHostMemoryMb',
  'reservedHostDiskMb',
  'reservedHostCpus',
  'vcpusClaimed',
  'memoryMbClaimed',
  'localGbClaimed',
  'vcpusUsed',
  'memoryMbUsed',
  'localGbUsed',
  'vcpusHeadroom',
  'memoryMbHeadroom',
  'localGbHeadroom',
  'trackedCount',
  'generation',
  'orphanMemoryMb',
] as const;
export type NodeFigures = Record<(typeof FIGURES)[number], number>;
type Item = Record<string, unknown>;

export interface NodeLedger {
  node: NodeFigures;
  instances: Item[];
  /** Move holds (resize, migration, evacuation) the node keeps besides its instances. */
  holds: Item[];
  /** Instances and holds together: what the node's usage must add up to. */
  sum: { memoryMb: number; diskGb: number; vcpus: number };
}

/** A node's partition (its node item, instance records, move holds and devices) as a ledger; undefined without a node item. */
export function nodeLedgerOf(items: Item[]): { ledger: NodeLedger; nodeItem: Item } | undefined {
  const nodeItem = items.find((i) => i.sk === 'NODE');
  if (!nodeItem) return undefined;
  const node = Object.fromEntries(FIGURES.map((f) => [f, Number(nodeItem[f] ?? 0)])) as NodeFigures;
  const instances = items.filter((i) => String(i.sk).startsWith('INSTANCE#'));
  const holds = items.filter((i) => String(i.sk).startsWith('MOVE#'));
  const sum = { memoryMb: 0, diskGb: 0, vcpus: 0 };
  for (const i of [...instances, ...holds]) {
    sum.memoryMb += Number(i.memoryMb);
    sum.diskGb += Number(i.diskGb);
    sum.vcpus += Number(i.vcpus);
  }
  return { ledger: { node, instances, holds, sum }, nodeItem };
}

/** One resource of a node: what it holds, what the host keeps back and its limit on the ledger's grid. */
function resources(ledger: NodeLedger) {
  const { node, sum } = ledger;
  return [
    {
      name: 'vcpus',
      sum: sum.vcpus,
      orphan: 0,
      reserved: node.reservedHostCpus,
      limit: node.vcpus * node.cpuAllocationRatio,
      claimed: node.vcpusClaimed,
      used: node.vcpusUsed,
      headroom: node.vcpusHeadroom,
    },
    // Orphans (instances the hypervisor runs that nobody claimed) hold memory too, once an audit saw them.
    {
      name: 'memoryMb',
      sum: sum.memoryMb,
      orphan: node.orphanMemoryMb,
      reserved: node.reservedHostMemoryMb,
      limit: node.memoryMb * node.ramAllocationRatio,
      claimed: node.memoryMbClaimed,
      used: node.memoryMbUsed,
      headroom: node.memoryMbHeadroom,
    },
    {
      name: 'localGb',
      sum: sum.diskGb,
      orphan: 0,
      reserved: Math.floor(node.reservedHostDiskMb / 1024),
      limit: node.localGb * node.diskAllocationRatio,
      claimed: node.localGbClaimed,
      used: node.localGbUsed,
      headroom: node.localGbHeadroom,
    },
  ];
}

/** As jest's toBeCloseTo(expected, 9): sums of claims may differ from the stored figure in the last bits. */
const close = (a: number, b: number) => Math.abs(a - b) < 10 ** -9 / 2;

/**
 * Usage = reserved + the sum of the instance records and move holds (+ orphans), claimed = that sum,
 * headroom = the limit rounded down to the ledger's 1/1024 grid - used, exactly, and trackedCount =
 * records + holds.
 */
export function ledgerDiscrepancies(ledger: NodeLedger): string[] {
  const problems: string[] = [];
  for (const r of resources(ledger)) {
    const held = r.sum + r.orphan;
    if (!close(r.claimed, held)) problems.push(`${r.name} claimed ${r.claimed} != records and holds ${held}`);
    if (!close(r.used, r.reserved + held))
      problems.push(`${r.name} used ${r.used} != reserved ${r.reserved} + records and holds ${held}`);
    const limit = onGrid(r.limit);
    if (!Object.is(r.headroom, limit - r.used))
      problems.push(`${r.name} headroom ${r.headroom} != limit ${limit} - used ${r.used}`);
  }
  const { node, instances, holds } = ledger;
  if (!Object.is(node.trackedCount, instances.length + holds.length)) {
    problems.push(`trackedCount ${node.trackedCount} != ${instances.length} records + ${holds.length} holds`);
  }
  return problems;
}

/** Beyond exactness: usage within the limits, and the stats counting the records. */
export function boundsDiscrepancies(ledger: NodeLedger, nodeItem: Item): string[] {
  const problems = resources(ledger).flatMap((r) =>
    r.used > onGrid(r.limit) ? [`${r.name} used ${r.used} exceeds limit ${onGrid(r.limit)}`] : [],
  );
  const instances = ((nodeItem.stats ?? {}) as Record<string, number>).num_instances ?? 0;
  if (instances !== ledger.instances.length)
    problems.push(`num_instances ${instances} != ${ledger.instances.length} records`);
  return problems;
}

/** A PCI device as the checks read it off its item. */
export interface DeviceState {
  address: string;
  deviceType: string;
  parentAddress?: string;
  owner?: string;
  busyChildren?: number;
}

/**
 * The devices and the instance records agree: the devices an instance holds are exactly those its record
 * lists, and a PF counts its busy VFs exactly.
 */
export function deviceDiscrepancies(devices: DeviceState[], instances: Item[]): string[] {
  const problems: string[] = [];
  const held = devices
    .filter((d) => d.owner !== undefined)
    .map((d) => `${d.address}=${d.owner}`)
    .sort();
  // A record without its list is a discrepancy of its own, not an empty list.
  for (const i of instances.filter((x) => !Array.isArray(x.pciDevices)))
    problems.push(`${String(i.instanceUuid)}: no pciDevices list`);
  const lists = instances.filter((i) => Array.isArray(i.pciDevices));
  const listed = lists.flatMap((i) => (i.pciDevices as string[]).map((a) => `${a}=${String(i.instanceUuid)}`)).sort();
  if (JSON.stringify(held) !== JSON.stringify(listed)) {
    problems.push(
      `device owners (${held.length}) != records' devices (${listed.length}): [${held.join(', ')}] vs [${listed.join(', ')}]`,
    );
  }
  for (const pf of devices.filter((d) => d.deviceType === 'type-PF')) {
    const busy = devices.filter((d) => d.parentAddress === pf.address && d.owner !== undefined).length;
    if (pf.busyChildren !== busy) problems.push(`${pf.address}: busyChildren ${pf.busyChildren} != ${busy} VFs held`);
  }
  return problems;
}

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

/** Nova's stats as the records alone give them (rule S6), counted here apart from lib/domain/stats.ts. */
export function recordStats(instances: Item[]): Record<string, number> {
  const stats: Record<string, number> = {};
  const bump = (key: string) => (stats[key] = (stats[key] ?? 0) + 1);
  const show = (v: unknown) => (v === null || v === undefined ? 'None' : String(v));
  for (const i of instances) {
    bump('num_instances');
    bump(`num_vm_${show(i.vmState)}`);
    bump(`num_task_${show(i.taskState)}`);
    bump(`num_os_type_${show(i.osType)}`);
    bump(`num_proj_${show(i.projectId)}`);
  }
  return stats;
}

const sorted = (o: Record<string, number>) => JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

/** Beyond exactness: usage within the limits, and the stats as statsDiscrepancies checks them. */
export function boundsDiscrepancies(ledger: NodeLedger, nodeItem: Item, viewStats?: Record<string, number>): string[] {
  const problems = resources(ledger).flatMap((r) =>
    r.used > onGrid(r.limit) ? [`${r.name} used ${r.used} exceeds limit ${onGrid(r.limit)}`] : [],
  );
  return [...problems, ...statsDiscrepancies(ledger, nodeItem, viewStats)];
}

/**
 * No stats stored on the node item (rule S6) and, given the stats of the node's view, those counting the
 * records exactly (io_workload aside), with no key at 0.
 */
export function statsDiscrepancies(ledger: NodeLedger, nodeItem: Item, viewStats?: Record<string, number>): string[] {
  const problems: string[] = [];
  if (nodeItem.stats !== undefined) problems.push(`the node item stores stats ${JSON.stringify(nodeItem.stats)}`);
  if (viewStats) {
    const { io_workload: _io, ...shown } = viewStats;
    const expected = recordStats(ledger.instances);
    if (sorted(shown) !== sorted(expected))
      problems.push(`view stats ${sorted(shown)} != records' ${sorted(expected)}`);
  }
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

interface Take {
  cellId: number;
  cpuUsage: number;
  memoryUsageMb: number;
  pin: number[];
  pages: { sizeKb: number; count: number } | null;
}

const setOf = (v: unknown): number[] =>
  (v instanceof Set ? [...(v as Set<number>)] : ((v as number[] | undefined) ?? [])).map(Number).sort((a, b) => a - b);

/**
 * The NUMA cells add up: each cell's shared CPU usage, memory and pages used equal the sum of what the
 * records and holds of the partition took from it, its pinned set is exactly the union of their pins, no
 * CPU is pinned by two of them, and its holder count is the number of them that touch it.
 */
export function cellDiscrepancies(items: Item[]): string[] {
  const problems: string[] = [];
  const cells = items.filter((i) => String(i.sk).startsWith('NUMA#'));
  const holders = items.filter((i) => String(i.sk).startsWith('INSTANCE#') || String(i.sk).startsWith('MOVE#'));
  const takes = holders.flatMap((h) =>
    ((h.numaTaken as Take[] | undefined) ?? []).map((t) => ({ t, by: String(h.sk) })),
  );
  for (const cell of cells) {
    const id = Number(cell.cellId);
    const mine = takes.filter(({ t }) => t.cellId === id);
    const sum = (f: (t: Take) => number) => mine.reduce((n, { t }) => n + f(t), 0);
    if (Number(cell.cpuUsage) !== sum((t) => t.cpuUsage))
      problems.push(`cell ${id}: cpuUsage ${String(cell.cpuUsage)} != records and holds ${sum((t) => t.cpuUsage)}`);
    if (Number(cell.memoryUsageMb) !== sum((t) => t.memoryUsageMb))
      problems.push(`cell ${id}: memoryUsageMb ${String(cell.memoryUsageMb)} != ${sum((t) => t.memoryUsageMb)}`);
    for (const key of Object.keys(cell).filter((k) => k.startsWith('pagesUsed'))) {
      const size = Number(key.slice('pagesUsed'.length));
      const want = sum((t) => (t.pages?.sizeKb === size ? t.pages.count : 0));
      if (Number(cell[key]) !== want) problems.push(`cell ${id}: ${key} ${String(cell[key])} != ${want}`);
    }
    const owner = new Map<number, string>();
    for (const { t, by } of mine) {
      for (const cpu of t.pin) {
        if (owner.has(cpu)) problems.push(`cell ${id}: CPU ${cpu} pinned by ${owner.get(cpu)} and ${by}`);
        owner.set(cpu, by);
      }
    }
    const pinned = setOf(cell.pinned).join(',');
    const union = [...owner.keys()].sort((a, b) => a - b).join(',');
    if (pinned !== union) problems.push(`cell ${id}: pinned [${pinned}] != pins of records and holds [${union}]`);
    if (Number(cell.holders) !== mine.length)
      problems.push(`cell ${id}: holders ${String(cell.holders)} != ${mine.length}`);
  }
  return problems;
}

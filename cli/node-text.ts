// Nodes and instances as text: the fleet table of `nodes` and the page of `node show`.
import type * as z from 'zod';
import type { instanceRecordSchema, nodeViewSchema } from '../lib/api/responses';
import { bar, fmt, paint, table, type Style, type Usage } from './render';

export type NodeView = z.infer<typeof nodeViewSchema>;
export type InstanceRecord = z.infer<typeof instanceRecordSchema>;

export function usageOf(n: NodeView): { vcpu: Usage; memory: Usage; disk: Usage } {
  return {
    vcpu: { total: n.vcpus, reserved: n.reservedHostCpus, used: n.vcpusUsed, limit: n.limits.vcpus },
    memory: { total: n.memoryMb, reserved: n.reservedHostMemoryMb, used: n.memoryMbUsed, limit: n.limits.memoryMb },
    disk: { total: n.localGb, reserved: n.reservedHostDiskMb / 1024, used: n.localGbUsed, limit: n.limits.diskGb },
  };
}

function pciOf(n: NodeView): { count: number; free: number } {
  return n.pciDevicePools.reduce((s, p) => ({ count: s.count + p.count, free: s.free + p.free }), {
    count: 0,
    free: 0,
  });
}

const cell = (style: Style, u: Usage) => `${bar(style, u)} ${fmt(u.used)}/${fmt(u.total)}`;

export function nodesTable(nodes: NodeView[], style: Style): string {
  if (nodes.length === 0) return 'No nodes are registered.';
  const sorted = [...nodes].sort((a, b) => a.nodeId.localeCompare(b.nodeId, 'en', { numeric: true }));
  const rows = sorted.map((n) => {
    const u = usageOf(n);
    const p = pciOf(n);
    const pci =
      p.count === 0
        ? '-'
        : `${bar(style, { total: p.count, reserved: 0, used: p.count - p.free, limit: p.count }, 5)} ${p.free}/${p.count} free`;
    return [n.nodeId, cell(style, u.vcpu), cell(style, u.memory), cell(style, u.disk), pci, fmt(n.runningVms)];
  });
  const columns = [
    { title: 'NODE' },
    { title: 'VCPU used/total' },
    { title: 'MEMORY MB used/total' },
    { title: 'DISK GB used/total' },
    { title: 'PCI' },
    { title: 'VMS', align: 'right' as const },
  ];
  const legend = paint(style, 'dim', '█ used  ░ free  · room up to the limit (inventory × allocation ratio)');
  return `${table(columns, rows)}\n${legend}`;
}

export function nodeText(n: NodeView, instances: InstanceRecord[] | undefined, style: Style): string {
  const u = usageOf(n);
  const ratios = [n.cpuAllocationRatio, n.ramAllocationRatio, n.diskAllocationRatio];
  const free = [n.vcpus - n.vcpusUsed, n.freeRamMb, n.freeDiskGb];
  const resources = (['vcpu', 'memory', 'disk'] as const).map((k, i) => {
    const x = u[k];
    return [
      ['vCPU', 'memory MB', 'disk GB'][i] ?? k,
      `${bar(style, x, 20)}`,
      fmt(x.used),
      fmt(x.total),
      fmt(free[i] ?? 0),
      fmt(x.reserved),
      fmt(ratios[i] ?? 1),
      fmt(x.limit),
    ];
  });
  const parts = [
    `${paint(style, 'bold', `node ${n.nodeId}`)}  generation ${n.generation}, ${fmt(n.runningVms)} running VMs, workload ${fmt(n.currentWorkload)}`,
    '',
    table(
      [
        { title: '' },
        { title: 'usage' },
        { title: 'used', align: 'right' },
        { title: 'total', align: 'right' },
        { title: 'free', align: 'right' },
        { title: 'reserved', align: 'right' },
        { title: 'ratio', align: 'right' },
        { title: 'limit', align: 'right' },
      ],
      resources,
    ),
  ];
  if (n.pciDevicePools.length > 0) {
    parts.push('', 'PCI device pools');
    parts.push(
      table(
        [
          { title: 'VENDOR:PRODUCT' },
          { title: 'TYPE' },
          { title: 'NUMA' },
          { title: 'NETWORK' },
          { title: 'FREE', align: 'right' },
        ],
        n.pciDevicePools.map((p) => [
          `${p.vendorId}:${p.productId}`,
          p.deviceType,
          p.numaNode === null ? '-' : String(p.numaNode),
          p.physicalNetwork ?? '-',
          `${p.free}/${p.count}`,
        ]),
        '  ',
      ),
    );
  }
  if (n.numaTopology) parts.push('', 'NUMA cells', numaTable(n.numaTopology.cells));
  if (instances) {
    parts.push('', instances.length === 0 ? 'No instances.' : 'Instances');
    if (instances.length > 0) {
      parts.push(
        table(
          [
            { title: 'INSTANCE' },
            { title: 'STATE' },
            { title: 'VCPU', align: 'right' },
            { title: 'MB', align: 'right' },
            { title: 'GB', align: 'right' },
            { title: 'PCI' },
          ],
          instances.map((i) => [
            i.instanceUuid + (i.migrationId ? ` (moving: ${i.migrationId})` : ''),
            i.taskState ? `${i.vmState}/${i.taskState}` : i.vmState,
            fmt(i.vcpus),
            fmt(i.memoryMb),
            fmt(i.diskGb),
            i.pciDevices.join(',') || '-',
          ]),
          '  ',
        ),
      );
    }
  }
  return parts.join('\n');
}

type NumaCell = NonNullable<NodeView['numaTopology']>['cells'][number];

/** Compact CPU lists: 0-3,8,10-11. */
export function cpuList(cpus: number[]): string {
  const sorted = [...cpus].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] ?? 0) + 1) j++;
    runs.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return runs.join(',') || '-';
}

/** One row per cell: dedicated CPUs free and pinned, shared usage, memory and pages. */
function numaTable(cells: NumaCell[]): string {
  return table(
    [
      { title: 'CELL' },
      { title: 'PCPUS free/total' },
      { title: 'PINNED' },
      { title: 'SHARED used/cpus', align: 'right' },
      { title: 'MB used/total', align: 'right' },
      { title: 'PAGES used/total' },
    ],
    cells.map((c) => {
      const free = c.pcpuset.filter((p) => !c.pinnedCpus.includes(p)).length;
      const gone = c.unknownPinnedCpus?.length ? ` (not reported: ${cpuList(c.unknownPinnedCpus)})` : '';
      return [
        String(c.id) + (c.reported === false ? ' (gone)' : ''),
        `${free}/${c.pcpuset.length}`,
        cpuList(c.pinnedCpus) + gone,
        `${fmt(c.cpuUsage)}/${c.cpuset.length}`,
        `${fmt(c.memoryUsageMb)}/${fmt(c.memoryMb)}`,
        c.mempages.map((p) => `${p.sizeKb}K ${fmt(p.used)}/${fmt(p.total - p.reserved)}`).join(', ') || '-',
      ];
    }),
    '  ',
  );
}

/** One line of a node's usage, for commands that change it. */
export function usageLine(n: NodeView): string {
  const u = usageOf(n);
  return (
    `${n.nodeId} now uses vCPU ${fmt(u.vcpu.used)}/${fmt(u.vcpu.total)}, memory ${fmt(u.memory.used)}/${fmt(u.memory.total)} MB, ` +
    `disk ${fmt(u.disk.used)}/${fmt(u.disk.total)} GB; free ${fmt(n.freeRamMb)} MB, ${fmt(n.freeDiskGb)} GB`
  );
}

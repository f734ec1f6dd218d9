// NUMA for the terminal: the claim's --numa and --hw flags as the API's request, a node's cells, and the
// topology a claim was fitted to (host cell per guest cell, pinning).
import type * as z from 'zod';
import type { fittedTopologySchema } from '../lib/api/responses';
import { UsageError } from './args';
import type { NodeView } from './node-text';
import { fmt, table } from './render';

type NumaCell = NonNullable<NodeView['numaTopology']>['cells'][number];
export type FittedTopology = z.infer<typeof fittedTopologySchema>;

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

/** 4K, 2M, 1G: page sizes as operators name them. */
export function pageSize(sizeKb: number): string {
  if (sizeKb >= 1024 * 1024 && sizeKb % (1024 * 1024) === 0) return `${sizeKb / (1024 * 1024)}G`;
  if (sizeKb >= 1024 && sizeKb % 1024 === 0) return `${sizeKb / 1024}M`;
  return `${sizeKb}K`;
}

/** The repeated `--hw KEY=VALUE` as a flavor's extra specs; a key given twice is a mistake, not an override. */
export function extraSpecsOf(values: string[]): Record<string, string> {
  const specs: Record<string, string> = {};
  for (const value of values) {
    const match = /^([^=\s]+)=(\S.*)$/s.exec(value);
    if (!match) throw new UsageError(`--hw ${value}: give KEY=VALUE, e.g. --hw hw:cpu_policy=dedicated`);
    const [, key = '', spec = ''] = match;
    if (key in specs) throw new UsageError(`--hw ${key} is given twice`);
    specs[key] = spec;
  }
  return specs;
}

/** What a --numa file holds: the instance topology itself, or a body with only `numaTopology` in it. */
export function guestTopologyOf(file: string, content: unknown): object {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  const topology = isObject(content) && Object.keys(content).join() === 'numaTopology' ? content.numaTopology : content;
  if (!isObject(topology) || !('cells' in topology))
    throw new UsageError(
      `--numa ${file}: give the instance topology as JSON, {"cells": [{"id": 0, "cpuset": [...], ...}]}`,
    );
  return topology;
}

/** One row per cell: dedicated CPUs free and pinned, shared usage, memory and pages. */
export function numaTable(cells: NumaCell[]): string {
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
        c.mempages.map((p) => `${pageSize(p.sizeKb)} ${fmt(p.used)}/${fmt(p.total - p.reserved)}`).join(', ') || '-',
      ];
    }),
    '  ',
  );
}

/** Guest vCPU → host CPU, in vCPU order: 0→1 1→5. */
const pinning = (map: Record<string, number>) =>
  Object.entries(map)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([vcpu, cpu]) => `${vcpu}→${cpu}`)
    .join(' ') || '-';

/** The fitted topology of a claim, or undefined when the claim asked for none. */
export function fittedText(topology: FittedTopology | undefined): string | undefined {
  if (topology === undefined) return undefined;
  if (topology === null) return 'NUMA: the node reports no cells, so the NUMA request was ignored.';
  const policies = [
    topology.cpuThreadPolicy ? `thread policy ${topology.cpuThreadPolicy}` : '',
    topology.emulatorThreadsPolicy ? `emulator threads ${topology.emulatorThreadsPolicy}` : '',
  ].filter(Boolean);
  const rows = topology.cells.map((c, guest) => [
    String(guest),
    String(c.id),
    fmt(c.memoryMb),
    c.pagesizeKb === null ? '-' : pageSize(c.pagesizeKb),
    cpuList(c.cpuset),
    pinning(c.cpuPinning),
    cpuList(c.cpusetReserved),
  ]);
  const columns = [
    { title: 'GUEST CELL' },
    { title: 'HOST CELL' },
    { title: 'MB', align: 'right' as const },
    { title: 'PAGES' },
    { title: 'SHARED vCPUs' },
    { title: 'PINNED vCPU→CPU' },
    { title: 'EMULATOR CPUs' },
  ];
  return [`NUMA fit${policies.length ? ` (${policies.join(', ')})` : ''}`, table(columns, rows, '  ')].join('\n');
}

/** A short form for an instance's row: the host cells it is on and the CPUs pinned there. */
export function fittedShort(topology: FittedTopology | undefined): string {
  if (topology === undefined) return '-';
  if (topology === null) return 'ignored (no cells)';
  return topology.cells
    .map((c) => {
      const pinned = Object.values(c.cpuPinning);
      return `cell ${c.id}${pinned.length ? ` CPUs ${cpuList(pinned)}` : ''}`;
    })
    .join('; ');
}

// The service's whole ledger for a run's nodes compared with the model's, item by item, read consistently through
// the checker's own client: node items, instance records, move holds, NUMA cells, devices, each node's view, and
// the step's migrations and owners.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { partition as readPartition } from '../support/ledger';
import { cellDiscrepancies } from '../support/ledger-check';
import type { Run } from './campaign-run';
import { canon, Violation, type StepLog } from './campaign-types';
import { limitsOf, RES, reservedOf, usage, type LedgerModel } from './ledger-model';

type Item = Record<string, unknown>;
/** One comparison: counted, and on a difference kept to report with the others. */
type Same = (what: string, got: unknown, want: unknown) => void;
type Holdings = ReturnType<LedgerModel['holdings']>;

const GRID = 1024;
const floorGrid = (x: number) => Math.floor(x * GRID) / GRID;

/** The service's whole ledger for this run's nodes equals the model's, item by item. */
export async function check(run: Run, log: StepLog | undefined): Promise<void> {
  const problems: string[] = [];
  const same: Same = (what, got, want) => {
    run.ctx.totals.checks++;
    if (canon(got) !== canon(want)) problems.push(`${what}:\n    service ${canon(got)}\n    model   ${canon(want)}`);
  };
  for (const node of run.nodes) {
    const items = await partition(run, node);
    const holdings = run.model.holdings(node);
    checkNodeItem(run, node, items, holdings, same);
    checkInstanceRecords(node, items, holdings, same);
    checkMoveHolds(node, items, holdings, same);
    checkCells(run, node, items, same);
    checkDevices(run, node, items, same);
    await checkView(run, node, same, problems);
  }
  for (const id of log?.migrations ?? []) {
    const m = run.model.migrations.get(id);
    const item = await get(run, { pk: `MIGRATION#${id}`, sk: 'MIGRATION' });
    same(
      `migration ${id}`,
      item ? { status: item.status, sequence: item.sequence } : null,
      m ? { status: m.status, sequence: m.sequence } : null,
    );
  }
  for (const uuid of log?.instances ?? []) {
    const owner = await get(run, { pk: `INSTANCE#${uuid}`, sk: 'OWNER' });
    // A release leaves a tombstone (rule O5): the instance has no owner.
    const holder = owner && owner.released !== true ? owner.nodeId : null;
    same(`owner of ${uuid}`, holder ?? null, run.model.instances.get(uuid)?.nodeId ?? null);
  }
  if (problems.length) throw new Violation(`the ledger differs from the model:\n  ${problems.join('\n  ')}`);
}

/** The node item's usage, tracked count, orphans and stored pools. */
function checkNodeItem(run: Run, node: string, items: Item[], { instances, holds }: Holdings, same: Same): void {
  const nodeItem = items.find((i) => i.sk === 'NODE') ?? {};
  const model = run.model.node(node);
  const used = run.model.used(node);
  const reserved = reservedOf(model.inventory);
  const limits = limitsOf(model.inventory);
  const columns = { memoryMb: 'memoryMb', diskGb: 'localGb', vcpus: 'vcpus' } as const;
  for (const r of RES) {
    const c = columns[r];
    same(
      `${node} ${r} used / claimed / headroom`,
      [nodeItem[`${c}Used`], nodeItem[`${c}Claimed`], nodeItem[`${c}Headroom`]],
      [used[r], used[r] - reserved[r], floorGrid(limits[r]) - used[r]],
    );
  }
  same(`${node} tracked items`, nodeItem.trackedCount, instances.length + holds.length);
  same(`${node} orphan memory`, nodeItem.orphanMemoryMb ?? 0, run.model.orphanMemory(node));
  // The stats are the view's, computed from the records (rule S6): the node item stores none.
  same(`${node} stored stats`, nodeItem.stats, undefined);
  const storedPools = Object.values((nodeItem.pciPools ?? {}) as Record<string, { count: number }>).filter(
    (p) => p.count !== 0,
  );
  same(`${node} stored PCI pools`, storedPools.map(canon).sort(), run.model.pools(node).map(canon).sort());
}

function checkInstanceRecords(node: string, items: Item[], { instances }: Holdings, same: Same): void {
  const records = items.filter((i) => String(i.sk).startsWith('INSTANCE#'));
  same(
    `${node} instance records`,
    records
      .map((i) =>
        canon({
          uuid: i.instanceUuid,
          memoryMb: i.memoryMb,
          diskGb: i.diskGb,
          vcpus: i.vcpus,
          flavor: i.flavor,
          vmState: i.vmState,
          taskState: i.taskState ?? null,
          osType: i.osType ?? null,
          projectId: i.projectId ?? null,
          migrationId: i.migrationId ?? null,
          pciDevices: [...((i.pciDevices as string[]) ?? [])].sort(),
        }),
      )
      .sort(),
    instances
      .map((i) =>
        canon({
          uuid: i.uuid,
          ...usage(i.size),
          flavor: i.size.flavor,
          ...i.state,
          migrationId: i.migrationId ?? null,
          pciDevices: [...i.size.devices].sort(),
        }),
      )
      .sort(),
  );
}

function checkMoveHolds(node: string, items: Item[], { holds }: Holdings, same: Same): void {
  same(
    `${node} move holds`,
    items
      .filter((i) => String(i.sk).startsWith('MOVE#'))
      .map((i) =>
        canon({
          m: i.migrationId,
          role: i.role,
          uuid: i.instanceUuid,
          memoryMb: i.memoryMb,
          diskGb: i.diskGb,
          vcpus: i.vcpus,
          pciDevices: [...((i.pciDevices as string[]) ?? [])].sort(),
        }),
      )
      .sort(),
    holds
      .map((h) =>
        canon({
          m: h.migration.id,
          role: h.role,
          uuid: h.migration.uuid,
          ...usage(h.size),
          pciDevices: [...h.size.devices].sort(),
        }),
      )
      .sort(),
  );
}

/** The cells add up to the records and holds, pin no CPU twice nor outside pcpuset, and hold the model's totals. */
function checkCells(run: Run, node: string, items: Item[], same: Same): void {
  const want = run.model.cellTotals(node);
  const cells = items.filter((i) => String(i.sk).startsWith('NUMA#'));
  if (!want) return same(`${node} NUMA cells`, cells.length, 0);
  same(`${node} cells add up`, cellDiscrepancies(items), []);
  const inventory = run.model.node(node).inventory.numaTopology?.cells ?? [];
  const pins = cells.map((c) => [...((c.pinned as Set<number> | undefined) ?? [])].map(Number));
  const outside = cells.flatMap((c, k) =>
    (pins[k] ?? []).filter((p) => !inventory.find((h) => h.id === Number(c.cellId))?.pcpuset.includes(p)),
  );
  same(`${node} pins outside pcpuset`, outside, []);
  const sum = (f: (c: Item) => unknown) => cells.reduce((n, c) => n + Number(f(c) ?? 0), 0);
  same(
    `${node} cells: pinned, shared CPU usage, memory, 2 MiB pages`,
    {
      pinned: pins.flat().length,
      cpuUsage: sum((c) => c.cpuUsage),
      memoryMb: sum((c) => c.memoryUsageMb),
      pages2048: sum((c) => c.pagesUsed2048),
    },
    want,
  );
}

function checkDevices(run: Run, node: string, items: Item[], same: Same): void {
  const devices = [...run.model.node(node).devices.values()];
  same(
    `${node} devices`,
    items
      .filter((i) => String(i.sk).startsWith('PCI#'))
      .map((d) =>
        canon({
          address: d.address,
          type: d.deviceType,
          vendor: d.vendorId,
          product: d.productId,
          parent: d.parentAddress ?? null,
          net: d.physicalNetwork ?? null,
          owner: d.owner ?? null,
          removed: Boolean(d.removed),
          busy: d.busyChildren,
        }),
      )
      .sort(),
    devices
      .map((d) =>
        canon({
          address: d.spec.address,
          type: d.spec.deviceType,
          vendor: d.spec.vendorId,
          product: d.spec.productId,
          parent: d.spec.parentAddress ?? null,
          net: d.spec.physicalNetwork ?? null,
          owner: d.holders[0] ?? null,
          removed: d.removed,
          busy: devices.filter((v) => v.spec.parentAddress === d.spec.address && v.holders.length).length,
        }),
      )
      .sort(),
  );
}

/** The node's view as GET answers it. */
async function checkView(run: Run, node: string, same: Same, problems: string[]): Promise<void> {
  const view = await run.call('GET', `/nodes/${node}`);
  if (view.reply.status !== 200) problems.push(`GET ${node} answered ${view.reply.status}`);
  const v = view.reply.body ?? {};
  const shown = {
    vcpusUsed: v.vcpusUsed,
    memoryMbUsed: v.memoryMbUsed,
    localGbUsed: v.localGbUsed,
    freeRamMb: v.freeRamMb,
    freeDiskGb: v.freeDiskGb,
    runningVms: v.runningVms,
    currentWorkload: v.currentWorkload,
    limits: v.limits,
    // Exactly the records' keys, none at 0 (rule S6).
    stats: v.stats,
    pciDevicePools: v.pciDevicePools,
  };
  same(`${node} view`, shown, run.model.view(node));
}

export const partition = (run: Run, node: string): Promise<Item[]> => readPartition(run.ctx.checker, node);

async function get(run: Run, key: { pk: string; sk: string }): Promise<Item | undefined> {
  const out = await run.ctx.checker.doc.send(
    new GetCommand({ TableName: run.ctx.checker.tableName, Key: key, ConsistentRead: true }),
  );
  return out.Item;
}

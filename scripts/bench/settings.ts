// What the bench runs: the sizes of every scenario (the defaults are the figures the README reports), the
// flavors, the nodes and the PCI devices.
import type { Amounts } from '../../lib/domain';

/** BENCH_SMOKE=1: every scenario small, to try the bench's code in a minute or two; its figures mean nothing. */
const SMOKE = process.env.BENCH_SMOKE === '1';
const size = (full: number, smoke: number) => (SMOKE ? smoke : full);

export const SETTINGS = {
  spread: { claims: size(2000, 200), nodes: 100, concurrency: 32 },
  hot: { claims: size(400, 40), room: size(200, 20), concurrency: 16 },
  // DynamoDB Local's JVM needs about 3,000 transactions before its JIT has settled (on 2 cores it runs at
  // half speed for the first 2,000): bare claims warm it, a few hundred through each handler path warm ours.
  warmup: { bareClaims: size(3000, 100), claims: size(200, 20), nodes: 20, concurrency: 32 },
  lifecycle: { instances: size(200, 20), nodes: 20, concurrency: 16 },
  /** Instances claimed on `nodes` source nodes and resized: cross-node to `nodes` other nodes, or on the same host. */
  resize: { instances: size(200, 20), nodes: 20, concurrency: 16, warmup: size(100, 10) },
  /**
   * One node with `pfs` PFs of `vfsPerPf` VFs each. steady: `claims` claims of one VF at `concurrency`, all
   * released, then claimed again. bursts: `bursts.claims` claims on a fresh node, `bursts.size` at once,
   * `bursts.pauseMs` after each burst (well within the 2 s a container keeps its copy of the devices).
   * The warm-up runs steady with `warmup` claims.
   */
  pci: {
    pfs: 4, vfsPerPf: 16, claims: size(64, 16), concurrency: 16, bursts: { claims: size(48, 16), size: 8, pauseMs: 500 }, warmup: size(32, 8),
  },
  /**
   * Rounds of the claim scenarios. Within a round the service runs right next to its baseline (the order
   * alternates between rounds), so a ratio is taken per round and the median of those is reported: on a
   * shared 2-core machine DynamoDB Local drifts by tens of percent within a minute.
   */
  repeats: size(3, 1),
  /** Units per operation: each operation `repeats` times, one at a time, on a node hosting `instances` of as many projects. */
  units: { instances: 100, repeats: size(5, 2) },
  /**
   * Claims on one node under simulated contention: `claims` at each concurrency, every request taking
   * `latencyMs` of service time; the node has room for all of them. 16 claimers again at `slowLatencyMs`, where
   * this machine's CPU is a smaller share of each request.
   */
  contention: { concurrencies: [1, 4, 16, 64], claims: size(320, 64), latencyMs: 10, slowLatencyMs: 40 },
} as const;

/** The audit is measured on a node holding each of these numbers of instances. */
export const AUDIT_SIZES = SMOKE ? [10] : [10, 100, 1000];

export const FLAVOR = { vcpus: 1, memoryMb: 256, rootGb: 10 };
// What one claim of FLAVOR takes: not volume-backed, no ephemeral disk, swap or overhead.
export const AMOUNTS: Amounts = { memoryMb: 256, diskGb: 10, vcpus: 1 };
// Room for all 2,000 claims on any one node: 2,048 vCPUs, 1.5 TB of memory less 512 MB reserved, 20 TB of disk.
export const ROOMY_NODE = { vcpus: 128, cpuAllocationRatio: 16, memoryMb: 1_048_576, localGb: 20_480 };
// Room for exactly 200 claims, bounded by vCPUs; memory and disk are plentiful.
export const HOT_NODE = {
  vcpus: SETTINGS.hot.room, cpuAllocationRatio: 1, reservedHostCpus: 0, memoryMb: 1_048_576, localGb: 100_000,
};
export const PATCH_BODY = { vmState: 'stopped', taskState: null };
/** Intel X710: PFs 0000:3b:00.0-3 (8086:1572), the VFs of PF p at 0000:3(c+p):02.0-03.7 (8086:154c). */
export const PCI_DEVICES = Array.from({ length: SETTINGS.pci.pfs }, (_, p) => {
  const pf = { address: `0000:3b:00.${p}`, vendorId: '8086', productId: '1572', numaNode: 0, deviceType: 'type-PF' };
  const vfs = Array.from({ length: SETTINGS.pci.vfsPerPf }, (_, v) => ({
    address: `0000:${(0x3c + p).toString(16)}:${String(2 + Math.floor(v / 8)).padStart(2, '0')}.${v % 8}`,
    vendorId: '8086', productId: '154c', numaNode: 0, deviceType: 'type-VF', parentAddress: pf.address,
  }));
  return [pf, ...vfs];
}).flat();
/** Each VF's PF. */
export const VF_PARENT = new Map(PCI_DEVICES.flatMap((d) => ('parentAddress' in d ? [[d.address, d.parentAddress] as const] : [])));
export const PCI_NODE = { ...ROOMY_NODE, pciDevices: PCI_DEVICES };
/** What every PCI claim asks for: one VF of the X710 (PFs are never taken for a VF request). */
export const VF_REQUEST = { count: 1, spec: [{ vendorId: '8086', productId: '154c', deviceType: 'type-VF' }] };
/** The flavor every resize moves to, and what it takes (twice FLAVOR). */
export const NEW_FLAVOR = { vcpus: 2, memoryMb: 512, rootGb: 20 };
export const NEW_AMOUNTS: Amounts = { memoryMb: 512, diskGb: 20, vcpus: 2 };

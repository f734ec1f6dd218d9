// What a campaign is made of: the requests its operations send, and the fast-check arbitraries that generate
// them over the fleet (fleet.ts). Operations are plain data that name things by index (node 1, the worker's slot
// 0, flavor 2); the driver resolves them against the model when it runs them, so any sequence is meaningful and
// a shrunk one still is.
import fc from 'fast-check';
import type { MoveType, Res } from './ledger-model';
import { CHANGES, FLAVORS, NODES, NUMA_FLAVORS, ORPHANS, PCI_REQUESTS, STATES, STATUSES } from './fleet';

export type Op =
  | {
      kind: 'claim';
      slot: number;
      node: number;
      flavor: number;
      /** An index in NUMA_FLAVORS, or -1: taken instead of `flavor` on the NUMA node. */
      numa: number;
      pci: number;
      state: number;
      volumeBacked: boolean;
      overhead: boolean;
      limit: { res: Res; factor: number } | null;
    }
  | { kind: 'patch'; slot: number; change: number }
  | { kind: 'release'; slot: number }
  | { kind: 'move'; slot: number; node: number; moveType: MoveType; flavor: number; pci: number; overhead: boolean }
  | { kind: 'status'; slot: number; status: string; sequence: 'next' | 'stale' | 'none' }
  | { kind: 'queue'; slot: number; statuses: string[]; reorder: boolean; duplicate: boolean; redeliver: boolean }
  | { kind: 'drop'; slot: number; role: 'new' | 'old' }
  | { kind: 'audit'; node: number };

export type Step =
  | { kind: 'batch'; workers: Op[][] }
  | { kind: 'inventory'; node: number; variant: number }
  | { kind: 'orphans'; node: number; variant: number }
  /** The node deleted and registered again; `drain` releases what it tracks first, `race` sends a claim with the delete. */
  | { kind: 'retire'; node: number; variant: number; drain: boolean; race: boolean };

export interface Shape {
  workers: number;
  slots: number;
  opsPerWorker: number;
  steps: number;
}

const index = (n: number) => fc.integer({ min: 0, max: n - 1 });
const pci = fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 2, arbitrary: index(PCI_REQUESTS.length) });
const status = fc.constantFrom(...STATUSES);

type Slot = fc.Arbitrary<number>;

const claimArbitrary = (slot: Slot, node: Slot) =>
  fc.record({
    kind: fc.constant('claim' as const),
    slot,
    node,
    flavor: index(FLAVORS.length),
    numa: fc.oneof({ weight: 1, arbitrary: fc.constant(-1) }, { weight: 2, arbitrary: index(NUMA_FLAVORS.length) }),
    pci,
    state: index(STATES.length),
    volumeBacked: fc.boolean(),
    overhead: fc.boolean(),
    limit: fc.option(
      fc.record({
        res: fc.constantFrom<Res>('memoryMb', 'diskGb', 'vcpus'),
        factor: fc.constantFrom(0.25, 0.5, 1),
      }),
      { freq: 5 },
    ),
  });

const moveArbitrary = (slot: Slot, node: Slot) =>
  fc.record({
    kind: fc.constant('move' as const),
    slot,
    node,
    moveType: fc.constantFrom<MoveType>('resize', 'resize', 'migration', 'evacuation', 'live-migration'),
    flavor: index(FLAVORS.length),
    pci,
    overhead: fc.boolean(),
  });

/** A migration's status updates, through the queue: in order or not, some sent twice, some redelivered. */
const queueArbitrary = (slot: Slot) =>
  fc.record({
    kind: fc.constant('queue' as const),
    slot,
    statuses: fc.array(status, { minLength: 1, maxLength: 3 }),
    reorder: fc.boolean(),
    duplicate: fc.boolean(),
    redeliver: fc.boolean(),
  });

export function opArbitrary(shape: Shape): fc.Arbitrary<Op> {
  const slot = index(shape.slots);
  const node = index(NODES.length);
  const statusUpdate = fc.record({
    kind: fc.constant('status' as const),
    slot,
    status,
    sequence: fc.constantFrom('next' as const, 'next' as const, 'stale' as const, 'none' as const),
  });
  const drop = fc.record({
    kind: fc.constant('drop' as const),
    slot,
    role: fc.constantFrom('new' as const, 'old' as const),
  });
  return fc.oneof(
    { weight: 6, arbitrary: claimArbitrary(slot, node) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('patch' as const), slot, change: index(CHANGES.length) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), slot }) },
    { weight: 4, arbitrary: moveArbitrary(slot, node) },
    { weight: 5, arbitrary: statusUpdate },
    { weight: 2, arbitrary: queueArbitrary(slot) },
    { weight: 1, arbitrary: drop },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('audit' as const), node }) },
  );
}

export function stepsArbitrary(shape: Shape): fc.Arbitrary<Step[]> {
  const batch = fc.record({
    kind: fc.constant('batch' as const),
    workers: fc.array(fc.array(opArbitrary(shape), { minLength: 1, maxLength: shape.opsPerWorker, size: 'max' }), {
      minLength: shape.workers,
      maxLength: shape.workers,
    }),
  });
  const inventory = fc.integer({ min: 0, max: NODES.length - 1 }).chain((n) =>
    fc.record({
      kind: fc.constant('inventory' as const),
      node: fc.constant(n),
      variant: index(NODES[n]?.length ?? 1),
    }),
  );
  const retire = fc.integer({ min: 0, max: NODES.length - 1 }).chain((n) =>
    fc.record({
      kind: fc.constant('retire' as const),
      node: fc.constant(n),
      variant: index(NODES[n]?.length ?? 1),
      drain: fc.boolean(),
      race: fc.boolean(),
    }),
  );
  const orphans = fc.record({
    kind: fc.constant('orphans' as const),
    node: index(NODES.length),
    variant: index(ORPHANS.length),
  });
  return fc.array(
    fc.oneof(
      { weight: 12, arbitrary: batch },
      { weight: 1, arbitrary: inventory },
      { weight: 1, arbitrary: orphans },
      { weight: 1, arbitrary: retire },
    ),
    {
      // At least half the steps, so that every seed runs a campaign worth its setup; shrinking then removes
      // the operations inside the steps.
      minLength: Math.ceil(shape.steps / 2),
      maxLength: shape.steps,
      size: 'max',
    },
  );
}

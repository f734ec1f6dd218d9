// The claim loads (which node each claim goes to, the same for every run and path), the nodes they
// register and the operation of one claim on each path.
import { randomUUID } from 'node:crypto';
import type { HttpEvent } from '../../lib/api/http';
import { bareClaim } from './baseline';
import type { Counts } from './counting';
import { claimEvent, claimHandler, httpEvent, invoke, putNodeHandler } from './handlers';
import { drive, measure, type Bursts, type Measured, type Op } from './measure';
import { expectStatuses, type Expectation, type LedgerCheck } from './checks';
import { HOT_NODE, ROOMY_NODE, SETTINGS } from './settings';
import type { Store } from './store';

export type ClaimPath = 'service' | 'service-view' | 'baseline';

export interface ClaimLoad {
  key: 'spread' | 'hot';
  claims: number;
  concurrency: number;
  nodeIds: string[];
  inventory: object;
  /** The node of each claim, the same sequence for every run and path. */
  picks: string[];
  /** The status codes every run must answer. */
  expected: Counts;
}

export const SCENARIOS = {
  'spread/service': '(a) handler, 100 nodes, return=minimal',
  'spread/baseline': '(c) bare TransactWriteItems, 100 nodes',
  'spread/service-view': '(d) handler, 100 nodes, with node view',
  'hot/service': '(b) handler, 1 node, room for 200',
  'hot/baseline': '(c) bare TransactWriteItems, 1 node',
} as const;
export type ScenarioKey = keyof typeof SCENARIOS;

/** A small deterministic generator (mulberry32), so that every run spreads its claims the same way. */
export function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function spreadLoad(prefix: string, claims: number, nodes: number, concurrency: number, seed = 42): ClaimLoad {
  const nodeIds = Array.from({ length: nodes }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
  const random = seeded(seed);
  const picks = Array.from({ length: claims }, () => nodeIds[Math.floor(random() * nodes)] ?? '');
  return { key: 'spread', claims, concurrency, nodeIds, inventory: ROOMY_NODE, picks, expected: { 201: claims } };
}

export const SPREAD = spreadLoad('node', SETTINGS.spread.claims, SETTINGS.spread.nodes, SETTINGS.spread.concurrency);
export const HOT: ClaimLoad = {
  key: 'hot', claims: SETTINGS.hot.claims, concurrency: SETTINGS.hot.concurrency, nodeIds: ['hot-node'], inventory: HOT_NODE,
  picks: Array.from({ length: SETTINGS.hot.claims }, () => 'hot-node'),
  expected: { 201: SETTINGS.hot.room, 409: SETTINGS.hot.claims - SETTINGS.hot.room },
};

/** The operation of one claim on a path; events and UUIDs are made up front, as API Gateway would have made them. */
export function claimOp(load: ClaimLoad, path: ClaimPath, store: Store): (i: number) => Promise<number> {
  const uuids = load.picks.map(() => randomUUID());
  if (path === 'baseline') return (i) => bareClaim(store, load.picks[i] ?? '', uuids[i] ?? '');
  const events = load.picks.map((nodeId, i) => claimEvent(nodeId, uuids[i] ?? '', path === 'service'));
  return (i) => invoke(claimHandler, 'claim-instance', events[i] as HttpEvent);
}

export async function registerNodes(nodeIds: string[], inventory: object): Promise<void> {
  const { statuses } = await drive('registering nodes', nodeIds.length, 16, (i) =>
    invoke(putNodeHandler, 'put-node', httpEvent('PUT', '/nodes/{nodeId}', { nodeId: nodeIds[i] ?? '' }, inventory)),
  );
  if (statuses['201'] !== nodeIds.length) throw new Error(`registering nodes answered ${JSON.stringify(statuses)}`);
}

/** A workload of steps over the same operations, checked between the steps. */
export interface StepRun<V extends string> {
  variant: V;
  steps: Measured[];
  checks: LedgerCheck[];
  expectations: Expectation[];
}

/** Measures one step of `run` over `ops` operations, which must all answer `expected`. */
export function stepper<V extends string>(run: StepRun<V>, what: string, table: string, ops: number, concurrency: number) {
  return async (name: string, expected: number, op: Op, bursts?: Bursts) => {
    const m = await measure(name, 1, table, ops, bursts?.size ?? concurrency, op, bursts);
    run.steps.push(m);
    run.expectations.push(expectStatuses(`${what} ${run.variant}: ${name}`, m, { [expected]: ops }));
  };
}

// The model-based campaign shared by the jest tests and `npm run soak`: fast-check generates steps, each
// step runs its workers' operations concurrently through the real handlers on DynamoDB Local, every answer
// is applied to the reference model, and after every step the whole ledger (node items, instance records,
// holds, devices, migrations, owners and each node's view) must equal the model's.
//
// Concurrency: within a step, workers run at once and the commit order is unknown. Answers are applied to
// the model in the order they come back. Per instance that order is the real one (an instance belongs to
// one worker, which sends its requests one after another); across instances only sums (order-free) and
// device holders meet, and the model tolerates a device changing hands in a different order than it
// committed, unless the times prove two holders at once (see PciModel.hold in ledger-pci.ts). Claims are checked
// soundly at the end of the step: a refused claim must not fit even at the highest usage the node could
// have had during the step, and an admitted one must fit at the lowest.
//
// This file drives the campaign; one run of it, its operations and its checks are in campaign-run.ts and the
// files that names.
import fc from 'fast-check';
import { newContainer, runtime } from '../../lib/api/runtime';
import { createStore } from '../../lib/store';
import { injectChaos, NO_CHAOS, seeded, type ChaosCounts, type ChaosOptions } from '../support/chaos';
import { Contention, type ContentionOptions } from '../support/contention';
import { Run } from './campaign-run';
import { Violation, type Context } from './campaign-types';
import { stepsArbitrary, type Shape, type Step } from './ops';

export { Violation };

export interface CampaignConfig extends Shape {
  /** Prefix of the ids a campaign makes, so several can share a table. */
  label: string;
  /** fast-check runs (each a fresh set of nodes). */
  runs: number;
  seed?: number;
  /** Replays one counterexample (with `seed`), as printed on a failure. */
  path?: string;
  /** Faults injected into the handlers' DynamoDB client and Lambda crashes (random draws follow the seed). */
  chaos?: Omit<ChaosOptions, 'random'>;
  /** DynamoDB's contention, simulated on the handlers' client: overlapping transactions cancelled (CU4, CU5). */
  contention?: ContentionOptions;
  /**
   * Lambda containers the HTTP requests go to, each picked at random (1 by default): each keeps its own copies
   * of devices and cells, which lag the others' writes as in AWS.
   */
  containers?: number;
  /** Bounds the whole check, shrinking included. */
  timeLimitMs?: number;
  /** Called after every step (progress of a long run). */
  onStep?: (totals: Totals) => void;
}

export interface Totals {
  runs: number;
  steps: number;
  ops: number;
  /** Requests sent, retries after a 5xx included. */
  requests: number;
  /** Individual comparisons and soundness checks that passed. */
  checks: number;
  outcomes: Record<string, number>;
  faults: ChaosCounts;
  /** 5xx answers the driver retried (a client retrying a failed Lambda). */
  retried5xx: number;
  /** Queue messages delivered again after the consumer reported them failed. */
  redelivered: number;
  /** Status updates re-sent after their Lambda died post-commit, answered `applied: false` (a repeat to the service). */
  appliedButReportedIgnored: number;
  /** Transactions and single writes the simulated contention refused. */
  conflicts: number;
}

export function newTotals(): Totals {
  return {
    runs: 0,
    steps: 0,
    ops: 0,
    requests: 0,
    checks: 0,
    outcomes: {},
    faults: {
      conflict: 0,
      throttle: 0,
      'server-error': 0,
      'lost-response': 0,
      'crash-before-send': 0,
      'crash-after-commit': 0,
    },
    retried5xx: 0,
    redelivered: 0,
    appliedButReportedIgnored: 0,
    conflicts: 0,
  };
}

export interface CampaignResult {
  failed: boolean;
  /** Seed, path, shrinks, the failure and the shrunk steps: enough to replay it. */
  report: string;
  seed: number;
}

const MAX_REPORTED_STEPS = 6_000;

/** How many objects of each `kind` a value holds, at any depth (the steps of a batch and their operations). */
function kindsIn(value: unknown, counts: Record<string, number> = {}): Record<string, number> {
  if (Array.isArray(value)) for (const v of value) kindsIn(v, counts);
  else if (value && typeof value === 'object') {
    const { kind } = value as { kind?: unknown };
    if (typeof kind === 'string') counts[kind] = (counts[kind] ?? 0) + 1;
    for (const v of Object.values(value)) kindsIn(v, counts);
  }
  return counts;
}

/** Enough to replay the failure: its seed and path, what failed (and first, before shrinking), the shrunk steps. */
function failureReport(out: fc.RunDetails<[Step[]]>, firstFailure: string | undefined): string {
  const error = out.errorInstance instanceof Error ? out.errorInstance : new Error(String(out.errorInstance));
  const steps = JSON.stringify(out.counterexample?.[0] ?? null);
  return [
    `campaign failed (${error instanceof Violation ? 'the service differs from the model' : `the campaign itself threw ${error.name}`}) after ${out.numShrinks} shrink(s)`,
    `replay: CAMPAIGN_SEED=${out.seed} CAMPAIGN_PATH=${out.counterexamplePath ?? ''}`,
    error instanceof Violation ? error.message : (error.stack ?? error.message),
    ...(firstFailure && firstFailure !== error.message ? [`first failure, before shrinking: ${firstFailure}`] : []),
    // The steps are cut short below: the count of every kind says what the cut-off part holds too.
    `kinds of step and operation in the shrunk counterexample: ${JSON.stringify(kindsIn(out.counterexample?.[0]))}`,
    `steps of the shrunk counterexample: ${steps.length > MAX_REPORTED_STEPS ? `${steps.slice(0, MAX_REPORTED_STEPS)}…` : steps}`,
  ].join('\n');
}

/**
 * Runs a campaign against the handlers configured by the environment (TABLE_NAME, DYNAMODB_ENDPOINT).
 * Adds to `totals`; returns whether it failed, with a report to replay it.
 */
export async function runCampaign(config: CampaignConfig, totals: Totals = newTotals()): Promise<CampaignResult> {
  const seed = config.seed ?? (Date.now() ^ (Math.random() * 0x100000000)) >>> 0;
  const store = runtime().store;
  const checker = createStore(
    { tableName: store.tableName, endpoint: process.env.DYNAMODB_ENDPOINT || undefined },
    { devices: store.devices },
  );
  const random = seeded(seed);
  const chaos = config.chaos ? injectChaos(store, { ...config.chaos, random }) : NO_CHAOS;
  const contention = config.contention ? new Contention(config.contention) : undefined;
  const uncontend = contention?.attach(store.client);
  const containers = [runtime(), ...Array.from({ length: (config.containers ?? 1) - 1 }, newContainer)];
  const ctx: Context = { store, containers, checker, chaos, totals, random };
  let runNo = 0;
  let firstFailure: string | undefined;
  const property = fc.asyncProperty(stepsArbitrary(config), async (steps) => {
    const run = new Run(ctx, `${config.label}${seed.toString(36)}-${++runNo}`, (seed + runNo) % 0xffffffff, config);
    totals.runs++;
    try {
      await run.setup();
      for (const step of steps) {
        await run.step(step);
        config.onStep?.(totals);
      }
    } catch (error) {
      // Concurrency makes a shrunk replay fail differently, or not at all: keep the original failure.
      firstFailure ??= error instanceof Error ? error.message : String(error);
      throw error;
    }
  });
  try {
    const out = await fc.check(property, {
      seed,
      numRuns: config.runs,
      // Full-size runs from the first one: a campaign is a few long runs, not many small ones.
      unbiased: true,
      // A replay stops at its first failure: shrinking again takes minutes under contention. (A printed case that
      // passes this time is followed by the cases after it in the shrink order, as fast-check walks a path.)
      ...(config.path ? { path: config.path, endOnFailure: true } : {}),
      ...(config.timeLimitMs ? { interruptAfterTimeLimit: config.timeLimitMs, markInterruptAsFailure: false } : {}),
    });
    if (!out.failed) return { failed: false, report: `seed ${seed}: ${out.numRuns} run(s) passed`, seed };
    return { failed: true, report: failureReport(out, firstFailure), seed };
  } finally {
    for (const [k, n] of Object.entries(chaos.counts)) totals.faults[k as keyof ChaosCounts] += n;
    chaos.remove();
    uncontend?.();
    if (contention) totals.conflicts += contention.counts.cancelled + contention.counts.singleWrites;
  }
}

/** CAMPAIGN_SEED and CAMPAIGN_PATH from the environment, to replay a failure. */
export function replayFromEnv(): { seed?: number; path?: string } {
  const seed = process.env.CAMPAIGN_SEED;
  const path = process.env.CAMPAIGN_PATH;
  return { ...(seed ? { seed: Number(seed) } : {}), ...(path ? { path } : {}) };
}

// The placement campaign: seeded random fleets, then steps of concurrent placements (single, twin copies of one
// request, gangs), named claims, releases and replays, with and without server groups of every policy, through
// the real handlers on DynamoDB Local. Every answer is applied to the reference model (placement-model.ts) and
// judged soundly against what the step can have seen; after every step the service's state (each node's
// ledger, instance records, group host items and group members) must equal the model's and keep its invariants.
//
// Optionally under fire: each request of a step goes to one of several Lambda containers (each with its own fleet
// view, devices and cells), meets DynamoDB faults and dying Lambdas (test/support/chaos.ts), and is sent again on
// a 5xx as a client would. The fleets' PUTs and the comparisons after a step are never faulted: they are the
// campaign's own footing, not what it tests.
//
// This file drives the campaign; one fleet's run is in placement-run.ts, its operations in placement-run-ops.ts
// and the comparison with the model in placement-run-compare.ts.
import { newContainer, runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import { injectChaos, NO_CHAOS, seeded, type ChaosOptions } from '../support/chaos';
import { PlacementRun, PlacementViolation, type Outcomes, type PlacementContext } from './placement-run';

export { PlacementViolation, type Outcomes };

export interface PlacementConfig {
  seed: number;
  label: string;
  fleets: number;
  steps: number;
  workers: number;
  /** Ends the campaign early (after a whole step) once spent. */
  timeLimitMs: number;
  /** Faults injected into the handlers' DynamoDB client and Lambda crashes, during the steps only. */
  chaos?: Omit<ChaosOptions, 'random'>;
  /** Lambda containers the steps' requests go to, each picked at random (1 by default). */
  containers?: number;
}

/**
 * Runs the campaign; answers the outcomes (with `fault-<kind>` counts and `retried-5xx` under fire), or throws a
 * PlacementViolation naming the seed, fleet and step.
 */
export async function runPlacementCampaign(store: Store, config: PlacementConfig): Promise<Outcomes> {
  const outcomes: Outcomes = {};
  const rand = seeded(config.seed);
  const { chaos } = config;
  // Faults, containers and resend pauses are drawn while the step's requests run, in an order that follows their
  // timing: from a generator of their own, the fleets and operations stay those of the seed.
  const random = seeded(config.seed ^ 0x5bd1e995);
  const handlers = runtime().store;
  const ctx: PlacementContext = {
    checker: store,
    containers: [runtime(), ...Array.from({ length: (config.containers ?? 1) - 1 }, newContainer)],
    random,
    outcomes,
    inject: chaos ? () => injectChaos(handlers, { ...chaos, random }) : () => NO_CHAOS,
    ambiguous: !!chaos?.kinds.some((k) => k === 'server-error' || k === 'lost-response'),
  };
  const deadline = Date.now() + config.timeLimitMs;
  for (let fleet = 0; fleet < config.fleets && Date.now() < deadline; fleet++) {
    const run = new PlacementRun(ctx, rand, `${config.label}${fleet}`);
    await run.setUp();
    for (let step = 0; step < config.steps && Date.now() < deadline; step++) {
      await run.step(config.workers);
      outcomes.steps = (outcomes.steps ?? 0) + 1;
      if (run.problems.length) {
        throw new PlacementViolation(
          `seed ${config.seed}, fleet ${fleet}, step ${step}:\n  ${run.problems.join('\n  ')}`,
        );
      }
    }
  }
  return outcomes;
}

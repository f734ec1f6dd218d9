// The placement campaign (test/model/placement-campaign.ts): random fleets and concurrent placements, gangs,
// named claims, releases and replays, with server groups of every policy, each step held against the reference
// model; then the same under fire: DynamoDB faults, dying Lambdas, requests sent again after a 5xx, spread over
// three containers. Seeded (PLACEMENT_SEED=… replays a failure of either) and bounded in time.
import '../support/quiet-logs';
import { freshTable } from '../support/table';
import {
  PlacementViolation,
  runPlacementCampaign,
  type Outcomes,
  type PlacementConfig,
} from '../model/placement-campaign';
import type { Store } from '../../lib/store';

let store: Store;
beforeAll(async () => {
  store = await freshTable('placement-model');
  // A view trusted for a short while: steps run on views a step or two old, so stale views are exercised (rule G4).
  process.env.FLEET_VIEW_TTL_MS = '150';
});
afterAll(() => {
  delete process.env.FLEET_VIEW_TTL_MS;
});

/** Runs the campaign of PLACEMENT_SEED or `seed`; a violation names the seed to replay. */
async function campaign(seed: number, config: Omit<PlacementConfig, 'seed'>): Promise<Outcomes> {
  const replay = Number(process.env.PLACEMENT_SEED ?? seed);
  try {
    return await runPlacementCampaign(store, { seed: replay, ...config });
  } catch (error) {
    if (error instanceof PlacementViolation)
      throw new Error(`${error.message}\n(replay: PLACEMENT_SEED=${replay})`, { cause: error });
    throw error;
  }
}

/** A campaign that placed, refused, released and replayed nothing proves nothing; nor one cut short by time. */
function expectBreadth(outcomes: Outcomes, steps: number): void {
  expect(outcomes.steps).toBe(steps);
  const kinds = ['place', 'place-twin', 'place-refused', 'gang', 'claim', 'release', 'replay'];
  expect(kinds.filter((k) => !outcomes[k])).toEqual([]);
  expect((outcomes['claim-GroupPolicyViolation'] ?? 0) + (outcomes['place-refused-SERVER_GROUP'] ?? 0)).toBeGreaterThan(
    0,
  );
  expect(outcomes.checks).toBeGreaterThan(10 * steps);
}

test('placements, gangs, claims and releases into groups of every policy agree with the model after every step', async () => {
  const outcomes = await campaign(20261202, { label: 'pm', fleets: 3, steps: 10, workers: 6, timeLimitMs: 45_000 });
  console.log(`placement campaign: ${JSON.stringify(outcomes)}`);
  // 30 steps take ~8 s on a quiet machine; the time limit only bounds a very busy one.
  expectBreadth(outcomes, 30);
}, 120_000);

test('the same with conflicts, throttling, 500s, lost responses and dying Lambdas over three containers', async () => {
  const outcomes = await campaign(20261206, {
    label: 'pf',
    fleets: 4,
    steps: 10,
    workers: 6,
    timeLimitMs: 45_000,
    containers: 3,
    chaos: { rate: 0.03, kinds: ['conflict', 'throttle', 'server-error', 'lost-response'], crashRate: 0.05 },
  });
  console.log(`placement campaign under fire: ${JSON.stringify(outcomes)}`);
  // 40 steps take ~6 s on a quiet machine.
  expectBreadth(outcomes, 40);
  // Faults met, answers lost after their command succeeded among them, and requests sent again after a 5xx:
  // otherwise this proved no more than the test above. Each kind alone is met only a few times a run (conflicts, which
  // exist for transactions only, about once), so they are counted together.
  const met = (...kinds: string[]) => kinds.reduce((n, k) => n + (outcomes[`fault-${k}`] ?? 0), 0);
  expect(met('conflict', 'throttle', 'server-error', 'lost-response')).toBeGreaterThan(0);
  expect(met('crash-before-send', 'crash-after-commit')).toBeGreaterThan(0);
  expect(met('lost-response', 'crash-after-commit')).toBeGreaterThan(0);
  expect(outcomes['retried-5xx']).toBeGreaterThan(0);
}, 120_000);

// The placement campaign (test/model/placement-campaign.ts): random fleets and concurrent placements, gangs,
// named claims, releases and replays, with server groups of every policy, each step held against the reference
// model. Seeded (PLACEMENT_SEED=… replays a failure) and bounded in time.
import { freshTable } from '../support/table';
import { PlacementViolation, runPlacementCampaign } from '../model/placement-campaign';
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

test('placements, gangs, claims and releases into groups of every policy agree with the model after every step', async () => {
  const seed = Number(process.env.PLACEMENT_SEED ?? 20261202);
  let outcomes;
  try {
    outcomes = await runPlacementCampaign(store, {
      seed,
      label: 'pm',
      fleets: 3,
      steps: 10,
      workers: 6,
      timeLimitMs: 45_000,
    });
  } catch (error) {
    if (error instanceof PlacementViolation)
      throw new Error(`${error.message}\n(replay: PLACEMENT_SEED=${seed})`, { cause: error });
    throw error;
  }
  console.log(`placement campaign: ${JSON.stringify(outcomes)}`);
  // 30 steps take ~20 s on a quiet machine; the time limit only bounds a very busy one.
  expect(outcomes.steps).toBe(30);
  // A campaign that placed, refused, released and replayed nothing proves nothing.
  const kinds = ['place', 'place-twin', 'place-refused', 'gang', 'claim', 'release', 'replay'];
  expect(kinds.filter((k) => !outcomes[k])).toEqual([]);
  expect((outcomes['claim-GroupPolicyViolation'] ?? 0) + (outcomes['place-refused-SERVER_GROUP'] ?? 0)).toBeGreaterThan(
    0,
  );
  expect(outcomes.checks).toBeGreaterThan(300);
}, 120_000);

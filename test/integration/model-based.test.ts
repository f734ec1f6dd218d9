// The short model-based campaign: seeded fast-check steps of concurrent workers against the handlers on
// DynamoDB Local, the whole ledger compared with the reference model after every step. A failure prints
// the seed and path; CAMPAIGN_SEED=… CAMPAIGN_PATH=… replays exactly that (shrunk) case.
import { replayFromEnv, runCampaign, newTotals } from '../model/campaign';
import { freshTable } from '../support/table';

beforeAll(async () => {
  await freshTable('model');
});

test('concurrent claims, state changes, releases, moves, statuses (HTTP and queue) and audits agree with the model', async () => {
  const totals = newTotals();
  // A fixed seed keeps `npm test` reproducible; the soak explores new seeds.
  const result = await runCampaign(
    {
      label: 'mb',
      workers: 4,
      containers: 3,
      slots: 2,
      opsPerWorker: 3,
      steps: 60,
      runs: 1,
      seed: 20260512,
      timeLimitMs: 90_000,
      ...replayFromEnv(),
    },
    totals,
  );
  if (result.failed) throw new Error(result.report);
  console.log(
    `model-based campaign: ${totals.ops} operations in ${totals.steps} steps, ${totals.checks} checks, outcomes ${JSON.stringify(totals.outcomes)}`,
  );
  // A campaign that ran nothing proves nothing.
  expect(totals.ops).toBeGreaterThan(150);
  expect(totals.outcomes.claim).toBeGreaterThan(0);
  expect(totals.outcomes['claim-refused']).toBeGreaterThan(0);
  expect((totals.outcomes['status-apply'] ?? 0) + (totals.outcomes['queue-status-apply'] ?? 0)).toBeGreaterThan(0);
  expect(totals.checks).toBeGreaterThan(1_000);
  expect(totals.outcomes.audit).toBeGreaterThan(0);
  expect(totals.outcomes['move-live-migration']).toBeGreaterThan(0);
  expect(totals.outcomes['claim-numa']).toBeGreaterThan(0);
  expect(totals.outcomes.retire).toBeGreaterThan(0);
}, 180_000);

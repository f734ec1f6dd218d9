// npm run soak: the model-based campaign of `npm test`, long. Runs of fresh seeds, in turn: clean, with faults
// (DynamoDB conflicts, throttling, 500s, responses lost after commit, Lambdas dying between steps), and with
// faults under DynamoDB's contention, simulated; until SOAK_OPS operations (100,000 by default) have run against
// an in-memory DynamoDB Local this script starts and always stops. Prints operations/s, the checks done and the
// faults injected; a failure prints its seed and path (CAMPAIGN_SEED=… CAMPAIGN_PATH=… npm run soak replays it).
import { showProgress } from './progress';
import { withDynamoDbLocal } from '../local/with-dynamodb-local';

// Read by the SDK and Powertools when they load: set before the handlers are imported below.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'CRITICAL';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_REGION ??= 'us-east-1';
// The handlers run in-process as the local runner runs them: open, no IAM caller (docs/security.md, rule W5).
process.env.AUTH = 'open';

const target = Number(process.env.SOAK_OPS ?? 100_000);
const firstSeed = Number(process.env.CAMPAIGN_SEED ?? Date.now() % 1_000_000_000);
const replayPath = process.env.CAMPAIGN_PATH;

type Campaign = typeof import('../test/model/campaign');
type Totals = ReturnType<Campaign['newTotals']>;
type Config = Parameters<Campaign['runCampaign']>[0];

/** The soak's table on the DynamoDB Local it started, with the handlers' runtime pointed at it. */
async function openTable(endpoint: string): Promise<void> {
  process.env.DYNAMODB_ENDPOINT = endpoint;
  process.env.TABLE_NAME = 'soak';
  const { createStore, ensureTable } = await import('../lib/store');
  const { resetRuntime } = await import('../lib/api/runtime');
  await ensureTable(createStore({ tableName: 'soak', endpoint }));
  resetRuntime();
}

/**
 * Run `n`'s campaign settings, in turn: clean (they keep the pace), with faults (they prove recovery), and with
 * faults under DynamoDB's contention, simulated (overlapping transactions cancelled: claims combine, CU5).
 */
function campaignOptions(n: number, started: number, onTenThousand: (line: string) => void): Config {
  // The kind follows the seed, so that CAMPAIGN_SEED replays a failed run as it ran.
  const seed = firstSeed + n;
  const chaos: Config['chaos'] =
    seed % 3 !== 0
      ? { rate: 0.03, kinds: ['conflict', 'throttle', 'server-error', 'lost-response'], crashRate: 0.05 }
      : undefined;
  const contention: Config['contention'] = seed % 3 === 2 ? { latencyMs: 25 } : undefined;
  let reported = 0;
  return {
    label: 's',
    workers: 8,
    containers: 3,
    slots: 2,
    opsPerWorker: 4,
    steps: 60,
    runs: 1,
    seed,
    ...(replayPath ? { path: replayPath } : {}),
    ...(chaos ? { chaos } : {}),
    ...(contention ? { contention } : {}),
    timeLimitMs: 5 * 60_000,
    onStep: (t: { ops: number; checks: number }) => {
      // The progress line is for terminals only; a log still shows the pace.
      if (t.ops < reported + 10_000) return;
      reported = t.ops - (t.ops % 10_000);
      const rate = Math.round(t.ops / ((performance.now() - started) / 1000));
      onTenThousand(`  ${t.ops} ops, ${rate} ops/s, ${t.checks} checks`);
    },
  };
}

function printTotals(totals: Totals, seconds: number, failed: boolean): void {
  const faults = Object.values(totals.faults).reduce((a, b) => a + b, 0);
  console.log(
    [
      `${failed ? 'FAILED' : 'clean'}: ${totals.ops} operations (${totals.requests} requests) in ${Math.round(seconds)} s, ` +
        `${Math.round(totals.ops / seconds)} operations/s, ${totals.runs} runs, ${totals.steps} steps`,
      `invariant checks: ${totals.checks}`,
      `faults injected: ${faults} ${JSON.stringify(totals.faults)}; 5xx answers retried by the client: ${totals.retried5xx}; ` +
        `queue messages redelivered: ${totals.redelivered}; simulated contention conflicts: ${totals.conflicts}`,
      `status updates re-sent after their Lambda died post-commit, answered applied=false: ${totals.appliedButReportedIgnored}`,
      `outcomes: ${JSON.stringify(totals.outcomes)}`,
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  await withDynamoDbLocal('soak', async (db) => {
    await openTable(db.endpoint);
    const { newTotals, runCampaign } = await import('../test/model/campaign');
    const totals = newTotals();
    const started = performance.now();
    const progress = showProgress('soak operations', target, () => totals.ops);
    let failed = false;
    for (let n = 0; totals.ops < target && !failed; n++) {
      const before = totals.ops;
      const options = campaignOptions(n, started, (line) => console.log(line));
      const result = await runCampaign(options, totals);
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `run ${n + 1} seed ${options.seed}${options.chaos ? (options.contention ? ' (faults, contention)' : ' (faults)') : ''}: ${totals.ops - before} ops; ` +
          `total ${totals.ops} ops, ${Math.round(totals.ops / seconds)} ops/s, ${totals.checks} checks`,
      );
      if (result.failed) {
        progress.end();
        console.error(result.report);
        failed = true;
      }
      if (replayPath) break;
    }
    progress.end();
    printTotals(totals, (performance.now() - started) / 1000, failed);
    if (failed) process.exitCode = 1;
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

// The contention runs alone (rule CU4): `npx tsx scripts/bench/contention-main.ts`, to tune the retry policy on.
import { withDynamoDbLocal } from '../../local/with-dynamodb-local';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AUTH = 'open';

async function main(): Promise<void> {
  await withDynamoDbLocal('bench-contention', async (db) => {
    const { useEndpoint } = await import('./store');
    const { contentionRuns, contentionTargets } = await import('./contention');
    const { printContention } = await import('./report-cost');
    useEndpoint(db.endpoint);
    const runs = await contentionRuns();
    printContention(runs);
    for (const t of contentionTargets(runs)) console.log(`${t.met ? 'met    ' : 'NOT MET'} ${t.what}`);
    if (!runs.every((r) => r.check.ok)) process.exitCode = 1;
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

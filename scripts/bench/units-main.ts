// The units part of the bench alone (rules CU1-CU3): `npx tsx scripts/bench/units-main.ts`, BENCH_SMOKE=1 for fewer repeats.
import { withDynamoDbLocal } from '../../local/with-dynamodb-local';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AUTH = 'open';

async function main(): Promise<void> {
  await withDynamoDbLocal('bench-units', async (db) => {
    const { useEndpoint } = await import('./store');
    const { unitRuns } = await import('./units');
    const { printUnits } = await import('./report-cost');
    useEndpoint(db.endpoint);
    const units = await unitRuns();
    printUnits(units);
    if (!units.check.ok) process.exitCode = 1;
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

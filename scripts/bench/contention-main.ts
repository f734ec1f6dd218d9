// The contention runs alone (rule CU4), their targets marked met or not: `npx tsx scripts/bench/contention-main.ts`,
// to tune the retry policy on.
import { benchEntry } from './entry';

benchEntry('bench-contention', async (db) => {
  const { useEndpoint } = await import('./store');
  const { contentionRuns } = await import('./contention');
  const { printContention } = await import('./report-cost');
  useEndpoint(db.endpoint);
  const runs = await contentionRuns();
  printContention(runs);
  return runs.every((r) => r.check.ok);
});

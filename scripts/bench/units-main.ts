// The units part of the bench alone (rules CU1-CU3): `npx tsx scripts/bench/units-main.ts`, BENCH_SMOKE=1 for fewer repeats.
import { benchEntry } from './entry';

benchEntry('bench-units', async (db) => {
  const { useEndpoint } = await import('./store');
  const { unitRuns } = await import('./units');
  const { printUnits } = await import('./report-cost');
  useEndpoint(db.endpoint);
  const units = await unitRuns();
  printUnits(units);
  return units.check.ok;
});

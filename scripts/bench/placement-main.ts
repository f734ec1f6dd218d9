// The placement figures alone (scripts/bench/placement.ts): npx tsx scripts/bench/placement-main.ts [nodes ...].
import { benchEntry } from './entry';
import { placementBench } from './placement';

benchEntry('bench-placement', async (db) => {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  await placementBench(db.endpoint, sizes.length ? sizes : undefined);
  return true;
});

// The bundles part of the bench alone (size and cold import of every Lambda entry):
// `npx tsx scripts/bench/bundles-main.ts`. It needs no DynamoDB Local; entry.ts is imported for the environment
// the whole bench gives the bundles it spawns.
import './entry';
import { bundlesOk, measureBundles, printBundles } from './bundles';

measureBundles()
  .then((figures) => {
    printBundles(figures);
    if (!bundlesOk(figures)) process.exitCode = 1;
  })
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });

// The PCI part of the bench alone: `npx tsx scripts/bench/pci-main.ts`, BENCH_SMOKE=1 for the smaller sizes.
// A warm-up steady run first, as the full bench has one before it (its figures are not printed).
import { benchEntry } from './entry';

benchEntry('bench-pci', async (db) => {
  const { useEndpoint } = await import('./store');
  const { pciRun } = await import('./pci');
  const { printPci } = await import('./report');
  const { SETTINGS } = await import('./settings');
  useEndpoint(db.endpoint);
  await pciRun('warmup-pci', 'steady', SETTINGS.pci.warmup);
  const runs = [await pciRun('pci', 'steady', SETTINGS.pci.claims), await pciRun('pci', 'bursts', SETTINGS.pci.bursts.claims)];
  printPci(runs);
  return runs.every((r) => r.checks.every((c) => c.ok) && r.expectations.every((e) => e.ok));
});

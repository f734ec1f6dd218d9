// Bundle size and cold-start import time of every Lambda entry, against an empty handler bundled the same way.
// Each sample is a fresh `node` process that requires the bundle and checks its handler, as a new Lambda
// container does at init; the AWS SDK it requires comes from node_modules through NODE_PATH, as the runtime's does.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildAll, bundle, type Bundle } from '../build';
import { showProgress } from '../progress';

const ROUNDS = 9;
const LIMIT_BYTES = 200 * 1024;
const LIMIT_RATIO = 2;
const SDK_ALONE = '(AWS SDK alone)';

export interface BundleFigures {
  entry: string;
  bytes: number;
  largestParts: Bundle['parts'];
  /** Median ms to require the bundle and get its handler, inside the process. */
  requireMs: number;
  /** Median ms from spawning `node` to the handler being ready and the process gone. */
  processMs: number;
  /** Medians of the ratios to the empty handler, each sample to the empty handler's sampled just before it. */
  requireRatio: number;
  processRatio: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

const CHILD = `
const t = performance.now();
const m = require(process.argv[1]);
if (typeof m.handler !== 'function') throw new Error('no handler');
process.stdout.write(String(performance.now() - t));
`;

function sample(file: string): { requireMs: number; processMs: number } {
  const start = performance.now();
  const out = spawnSync(process.execPath, ['-e', CHILD, resolve(file)], {
    encoding: 'utf8',
    // The Lambda runtime finds its AWS SDK through NODE_PATH too; here that is the project's node_modules.
    env: { ...process.env, NODE_PATH: resolve('node_modules'), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  const processMs = performance.now() - start;
  if (out.status !== 0) throw new Error(`requiring ${file} failed: ${out.stderr}`);
  return { requireMs: Number(out.stdout), processMs };
}

export async function measureBundles(): Promise<BundleFigures[]> {
  const dir = mkdtempSync(join(tmpdir(), 'capacity-tracker-bundles-'));
  try {
    const empty = join(dir, 'empty.ts');
    writeFileSync(empty, 'export const handler = async () => ({ statusCode: 200 });\n');
    const baseline = await bundle(empty, dir, 'empty-handler');
    // What every function loads before any code of ours: the share of the cold start no bundle setting changes.
    const sdk = join(dir, 'sdk.ts');
    writeFileSync(sdk, `import '@aws-sdk/client-dynamodb';\nimport '@aws-sdk/lib-dynamodb';\n${readFileSync(empty, 'utf8')}`);
    const bundles = [...(await buildAll(join(dir, 'functions'))), await bundle(sdk, dir, SDK_ALONE)];
    type Sample = ReturnType<typeof sample>;
    // Each bundle's sample is paired with an empty handler's taken just before it: the machine's load drifts
    // within a round, and a ratio of neighbours cancels most of it: two bundles of the same make (get-node,
    // list-instances) differed by up to 0.3× with one empty sample per round, by up to 0.1× paired.
    const pairs = bundles.map(() => [] as { own: Sample; empty: Sample }[]);
    let done = 0;
    const progress = showProgress('bundles: cold imports', ROUNDS * bundles.length, () => done);
    try {
      for (let r = 0; r < ROUNDS; r++) {
        bundles.forEach((b, i) => {
          const empty = sample(baseline.file);
          pairs[i]!.push({ empty, own: sample(b.file) });
          done++;
        });
      }
    } finally {
      progress.end();
    }
    const emptySamples = pairs.flat().map((p) => p.empty);
    return bundles.map((b, i) => {
      const own = pairs[i]!.map((p) => p.own);
      const ratio = (key: 'requireMs' | 'processMs') => median(pairs[i]!.map((p) => p.own[key] / p.empty[key]));
      return {
        entry: b.entry,
        bytes: b.bytes,
        largestParts: b.entry === SDK_ALONE ? [] : b.parts.slice(0, 3),
        requireMs: round(median(own.map((s) => s.requireMs))),
        processMs: round(median(own.map((s) => s.processMs))),
        requireRatio: round(ratio('requireMs')),
        processRatio: round(ratio('processMs'), 2),
      };
    }).concat([{
      entry: '(empty handler)',
      bytes: baseline.bytes,
      largestParts: [],
      requireMs: round(median(emptySamples.map((s) => s.requireMs)), 2),
      processMs: round(median(emptySamples.map((s) => s.processMs))),
      requireRatio: 1,
      processRatio: 1,
    }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function bundlesOk(figures: BundleFigures[]): boolean {
  return figures.every((f) => f.entry.startsWith('(') || (f.bytes <= LIMIT_BYTES && f.processRatio <= LIMIT_RATIO));
}

export function printBundles(figures: BundleFigures[]): void {
  console.log(`\nLambda bundles (esbuild, minified, AWS SDK external; ${ROUNDS} fresh node processes each, medians; ratios to an empty handler sampled just before each)`);
  console.log('  entry                       size   require  cold process  process/empty  require/empty  largest parts');
  for (const f of figures) {
    const parts = f.largestParts.map((p) => `${p.name} ${(p.bytes / 1024).toFixed(0)} KB`).join(', ');
    console.log(
      `  ${f.entry.padEnd(24)} ${`${(f.bytes / 1024).toFixed(1)} KB`.padStart(9)} ${`${f.requireMs} ms`.padStart(9)}` +
        ` ${`${f.processMs} ms`.padStart(13)} ${`${f.processRatio}x`.padStart(14)} ${`${f.requireRatio}x`.padStart(14)}  ${parts}`,
    );
  }
  const functions = figures.filter((f) => !f.entry.startsWith('('));
  const worst = functions.reduce((a, b) => (b.processRatio > a.processRatio ? b : a));
  const biggest = functions.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const sdk = figures.find((f) => f.entry === SDK_ALONE);
  console.log(
    `  Targets: every bundle <= ${LIMIT_BYTES / 1024} KB (largest ${biggest.entry} ${(biggest.bytes / 1024).toFixed(1)} KB), cold start <= ${LIMIT_RATIO}x the ` +
      `empty handler's (worst ${worst.entry} ${worst.processRatio}x): ${bundlesOk(figures) ? 'met' : 'MISSED'}. ` +
      '"require" alone includes loading the AWS SDK from node_modules, which the empty handler does not: ' +
      `the SDK by itself is ${sdk?.processRatio}x.`,
  );
}

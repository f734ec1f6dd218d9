// Bundles each Lambda entry of the table of operations (lib/operations.ts) into dist/<entry>/index.js the way
// the CDK stack does (esbuild, minified, CommonJS for node22, the AWS SDK left to the Lambda runtime), and
// reports the sizes.
import { build, type Metafile } from 'esbuild';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE } from '../infra/bundling';
import { lambdaEntries } from '../lib/operations';
import { FLEET_SUMMARY_FUNCTIONS } from '../lib/operations-placement';

export const ENTRIES = [
  ...lambdaEntries().map((e) => e.entry),
  ...Object.values(FLEET_SUMMARY_FUNCTIONS).map((f) => f.entry),
];

export interface Bundle {
  entry: string;
  file: string;
  bytes: number;
  /** Bytes in the output per package (or per folder of ours), largest first. */
  parts: { name: string; bytes: number }[];
}

function partsOf(metafile: Metafile): Bundle['parts'] {
  const bytes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(input)?.[1];
      const name = pkg ?? input.split('/').slice(0, 2).join('/');
      bytes.set(name, (bytes.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...bytes].map(([name, b]) => ({ name, bytes: b })).sort((a, b) => b.bytes - a.bytes);
}

/** Bundles one entry file to `<outdir>/<name>/index.js`. */
export async function bundle(entryFile: string, outdir: string, name: string): Promise<Bundle> {
  const file = join(outdir, name, 'index.js');
  const result = await build({
    entryPoints: [entryFile],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: BUNDLE.target,
    minify: BUNDLE.minify,
    sourcemap: BUNDLE.sourcemap,
    external: [...BUNDLE.external],
    metafile: true,
    logLevel: 'warning',
  });
  return { entry: name, file, bytes: statSync(file).size, parts: partsOf(result.metafile) };
}

export async function buildAll(outdir = 'dist'): Promise<Bundle[]> {
  const bundles: Bundle[] = [];
  for (const entry of ENTRIES) bundles.push(await bundle(join('functions', `${entry}.ts`), outdir, entry));
  return bundles;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export function describe(b: Bundle): string {
  const top = b.parts
    .slice(0, 3)
    .map((p) => `${p.name} ${kb(p.bytes)}`)
    .join(', ');
  return `${b.entry.padEnd(24)} ${kb(b.bytes).padStart(9)}   (${top})`;
}

if (require.main === module) {
  buildAll()
    .then((bundles) => console.log(bundles.map(describe).join('\n')))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}

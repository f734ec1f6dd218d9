// Bundles each Lambda entry of functions/ into dist/<entry>/index.js, the way the Lambda runtime loads it.
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_ENTRIES, ROUTES } from '../functions/routes';

async function main(): Promise<void> {
  const entries = [...new Set([...ROUTES, ...EVENT_ENTRIES].map((r) => r.entry))];
  const rows: string[] = [];
  for (const entry of entries) {
    const outfile = join('dist', entry, 'index.js');
    await build({
      entryPoints: [join('functions', `${entry}.ts`)],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      minify: true,
      sourcemap: false,
      // The Lambda runtime ships the AWS SDK v3.
      external: ['@aws-sdk/*'],
      logLevel: 'warning',
    });
    rows.push(`${entry.padEnd(20)} ${(statSync(outfile).size / 1024).toFixed(1).padStart(7)} KB`);
  }
  console.log(rows.join('\n'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

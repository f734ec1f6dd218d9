// Each Lambda bundle keeps only the request schemas its handler uses (lib/api/zod.ts `schema`): zod builds every
// schema a bundle keeps when it loads, so a schema that leaks into every bundle costs every cold start.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundle } from '../../../scripts/build';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bundle-schemas-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bundled = async (entry: string) =>
  readFileSync((await bundle(join('functions', `${entry}.ts`), dir, entry)).file, 'utf8');

// Messages only the inventory schema (PUT /nodes) and the PCI device schemas carry.
const INVENTORY = 'device addresses must be unique';
const PCI = 'printable ASCII characters';

test('a handler that validates only a node id carries neither the inventory nor the PCI schemas', async () => {
  const code = await bundled('get-node');
  expect(code).not.toContain(INVENTORY);
  expect(code).not.toContain(PCI);
});

test('the handler that validates an inventory carries its schemas', async () => {
  const code = await bundled('put-node');
  expect(code).toContain(INVENTORY);
  expect(code).toContain(PCI);
});

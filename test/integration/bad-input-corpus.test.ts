// The bad-input corpus (test/corpus/*.json): malformed JSON, wrong types, huge, negative and fractional
// numbers, unknown fields, oversized bodies, bad ids, traversal and injection in paths, unknown routes and
// methods. Every case answers 4xx with its error code and a clear message, never 5xx, and the table is
// exactly as it was (a full Scan compared after each case).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { F1, N0 } from '../support/fixtures';
import { freshTable } from '../support/table';

interface Case {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** The body as sent, byte for byte (malformed JSON included). */
  body?: string;
  /** A body given as JSON. */
  json?: unknown;
  /** A large body: prefix + repeat × times + suffix. */
  bodyRepeat?: { prefix?: string; repeat: string; times: number; suffix?: string };
  status: number;
  error?: string;
  /** A fragment the message must contain. */
  message?: string;
}

const dir = join(__dirname, '..', 'corpus');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const corpus = files.flatMap((file) =>
  (JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cases: Case[] }).cases.map(
    (c) => [`${file}: ${c.name}`, c] as const,
  ),
);

const INSTANCE = '6f1d1a8e-1c2b-4c55-9c1e-0000000c0a5e';
const ids: Record<string, string> = {
  node: 'corpus-n0',
  node2: 'corpus-n1',
  instance: INSTANCE,
  migration: 'corpus-m1',
};
const fill = (text: string) => text.replace(/\{(node2|node|instance|migration)\}/g, (_, k: string) => ids[k] as string);

function bodyOf(c: Case): string | undefined {
  if (c.bodyRepeat)
    return `${c.bodyRepeat.prefix ?? ''}${c.bodyRepeat.repeat.repeat(c.bodyRepeat.times)}${c.bodyRepeat.suffix ?? ''}`;
  if (c.json !== undefined) return fill(JSON.stringify(c.json));
  return c.body === undefined ? undefined : fill(c.body);
}

let store: Store;
async function snapshot(): Promise<string[]> {
  const items: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await store.doc.send(
      new ScanCommand({ TableName: store.tableName, ConsistentRead: true, ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []).map((i) => JSON.stringify(i, Object.keys(i).sort())));
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort();
}

let before: string[];
beforeAll(async () => {
  store = await freshTable('corpus');
  const pci = [{ address: '0000:81:00.0', vendorId: '8086', productId: '1520' }];
  expect((await api('PUT', `/nodes/${ids.node}`, { ...N0, pciDevices: pci })).status).toBe(201);
  expect((await api('PUT', `/nodes/${ids.node2}`, N0)).status).toBe(201);
  const claim = { instanceUuid: INSTANCE, flavor: F1, pciRequests: [{ count: 1, spec: [{ vendorId: '8086' }] }] };
  expect((await api('POST', `/nodes/${ids.node}/instances`, claim)).status).toBe(201);
  const move = { migrationId: ids.migration, instanceUuid: INSTANCE, moveType: 'migration', sourceNodeId: ids.node };
  expect((await api('POST', `/nodes/${ids.node2}/move-claims`, move)).status).toBe(201);
  before = await snapshot();
});

test('the corpus has at least 200 cases, with unique names, in several files', () => {
  expect(corpus.length).toBeGreaterThanOrEqual(200);
  expect(new Set(corpus.map(([name]) => name)).size).toBe(corpus.length);
  expect(files.length).toBeGreaterThan(1);
});

test.each(corpus)('%s', async (_name, c) => {
  const res = await api(c.method, fill(c.path), bodyOf(c), c.headers ?? {});
  expect({ status: res.status, error: res.body?.error }).toEqual({
    status: c.status,
    error: c.error ?? expect.any(String),
  });
  // One sentence that says what is wrong: the contract's error shape.
  expect(res.body.message).toMatch(/^[A-Z].*\.$/s);
  if (c.message) expect(res.body.message).toContain(fill(c.message));
  if (res.status === 400 && res.body.error === 'ValidationError') expect(res.body.issues.length).toBeGreaterThan(0);
  expect(await snapshot()).toEqual(before);
});

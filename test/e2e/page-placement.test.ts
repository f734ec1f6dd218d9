// The capacity page's placement views in headless Chromium: nodes filtered by trait, a server group's members
// highlighted, a node's traits and aggregates in its detail.
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { createApiClient, type ApiClient } from '../../lib/client/api-client';
import { ensureChromium, INSTALL_TIMEOUT_MS, launchChromium } from '../support/chromium';
import { F1, N0 } from '../support/contract';
import { START_TIMEOUT_MS, startRunner, type Runner } from '../support/runner';

let runner: Runner | undefined;
let browser: Browser | undefined;
let client: ApiClient;

beforeAll(
  async () => {
    ensureChromium();
    runner = await startRunner('page-place');
    client = createApiClient({ endpoint: runner.url });
    const nodes: [string, string[]][] = [
      ['gpu-a', ['CUSTOM_GPU', 'HW_CPU_X86_AVX2']],
      ['gpu-b', ['CUSTOM_GPU']],
      ['plain', []],
    ];
    for (const [id, traits] of nodes)
      expect((await client.request('PUT', `/nodes/${id}`, { ...N0, traits, aggregates: ['rack-1'] })).status).toBe(201);
    expect((await client.request('PUT', '/server-groups/web', { policy: 'anti-affinity' })).status).toBe(201);
    for (const nodeId of ['gpu-b', 'plain']) {
      const claim = { instanceUuid: randomUUID(), flavor: F1, serverGroup: 'web' };
      expect((await client.request('POST', `/nodes/${nodeId}/instances`, claim)).status).toBe(201);
    }
    browser = await launchChromium();
  },
  INSTALL_TIMEOUT_MS + START_TIMEOUT_MS + 30_000,
);

afterAll(async () => {
  await browser?.close();
  await runner?.stop();
}, 30_000);

async function open(query = ''): Promise<Page> {
  if (!browser || !runner) throw new Error('set-up failed');
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  await page.goto(`${runner.url}/${query}`);
  await page.waitForSelector('[data-node]');
  return page;
}

const shown = (page: Page) =>
  page.locator('.rows [data-node]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node')));

it('filters by traits, all of them, and keeps the filter in the address', async () => {
  const page = await open();
  await page.fill('#trait', 'custom_gpu');
  expect(await shown(page)).toEqual(['gpu-a', 'gpu-b']);
  await page.fill('#trait', 'CUSTOM_GPU, HW_CPU_X86_AVX2');
  expect(await shown(page)).toEqual(['gpu-a']);
  expect(page.url()).toContain('trait=CUSTOM_GPU');
  await page.fill('#trait', 'CUSTOM_NONE');
  expect(await page.locator('#empty').innerText()).toContain('with traits CUSTOM_NONE');
  await page.close();
});

it("highlights the nodes holding a server group's members, and shows a node's labels", async () => {
  const page = await open('?group=web');
  await page.waitForSelector('[data-node="plain"].member');
  const members = await page
    .locator('.rows [data-node]')
    .evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-node'), r.getAttribute('data-members')]));
  expect(members).toEqual([
    ['gpu-a', '0'],
    ['gpu-b', '1'],
    ['plain', '1'],
  ]);
  await page.click('[data-node="gpu-a"]');
  expect(await page.locator('#detail .labels').innerText()).toBe(
    'traits CUSTOM_GPU HW_CPU_X86_AVX2 · aggregates rack-1',
  );
  await page.fill('#group', 'nobody');
  await page.press('#group', 'Enter');
  await page.waitForSelector('#status:has-text("server group nobody")');
  expect(await page.locator('.rows .member').count()).toBe(0);
  await page.close();
});

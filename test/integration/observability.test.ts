// What the handlers tell CloudWatch: structured logs with the request id and the ids a request names, and
// EMF metrics for requests, claims, refusals and the store's retries, as a deployed Lambda prints them.
import type { Store } from '../../lib/store';
import type { Reply } from '../support/api';
import { freshTable } from '../support/table';

// Read by Powertools when the handlers load, so set before they are imported below.
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
process.env.POWERTOOLS_LOG_LEVEL = 'INFO';

type Line = Record<string, unknown>;
type Api = (method: string, path: string, body?: unknown) => Promise<Reply>;

let api: Api;
let store: Store;
let injectFaults: typeof import('../support/faults').injectFaults;
const printed: string[] = [];

beforeAll(async () => {
  await freshTable('observability');
  ({ api } = await import('../support/api'));
  ({ injectFaults } = await import('../support/faults'));
  store = (await import('../../lib/api/runtime')).runtime().store;
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
});

afterAll(() => jest.restoreAllMocks());

/** The JSON lines printed while `run` ran. */
async function linesOf(run: () => Promise<unknown>): Promise<Line[]> {
  printed.length = 0;
  await run();
  return printed
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

const emf = (lines: Line[]) => lines.filter((l) => l._aws !== undefined);
const metricNames = (lines: Line[]) =>
  emf(lines).flatMap((l) =>
    (l._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0]!.Metrics.map(
      (m) => m.Name,
    ),
  );

/** A metric's total in one EMF blob: a metric added twice is printed as a list of values. */
const total = (line: Line | undefined, name: string) =>
  [line?.[name] ?? []].flat().reduce((a: number, b) => a + Number(b), 0);

const UUID = '6f1c1d2e-0000-4000-8000-00000000000';

test('a claim logs one request line with its ids and counts the request and the claim', async () => {
  await api('PUT', '/nodes/obs-1', { vcpus: 4, memoryMb: 4096, localGb: 40 });
  const lines = await linesOf(() =>
    api('POST', '/nodes/obs-1/instances', { instanceUuid: `${UUID}1`, flavor: { vcpus: 1, memoryMb: 512, rootGb: 1 } }),
  );
  const request = lines.find((l) => l.message === 'request');
  expect(request).toMatchObject({
    level: 'INFO',
    status: 201,
    operation: 'ClaimInstance',
    nodeId: 'obs-1',
    instanceUuid: `${UUID}1`,
  });
  expect(request?.function_request_id).toEqual(expect.any(String));
  const perOperation = emf(lines).find((l) => l.operation === 'ClaimInstance');
  expect(perOperation).toMatchObject({ Requests: 1, service: 'capacity-tracker' });
  expect(metricNames(lines)).toEqual(expect.arrayContaining(['Requests', 'Claims']));
  expect(metricNames(lines)).not.toContain('Refusals');
});

test('a refused claim counts a refusal and a client error', async () => {
  const lines = await linesOf(() =>
    api('POST', '/nodes/obs-1/instances', {
      instanceUuid: `${UUID}2`,
      flavor: { vcpus: 64, memoryMb: 512, rootGb: 1 },
    }),
  );
  expect(lines.find((l) => l.message === 'request')).toMatchObject({ status: 409 });
  expect(emf(lines).find((l) => l.operation === 'ClaimInstance')).toMatchObject({
    Requests: 1,
    ClientErrors: 1,
    Refusals: 1,
  });
});

test('requests served at once each publish their metrics once, with no warning about an empty flush', async () => {
  // The local runner serves many requests through one handler at once: one may publish another's metrics first.
  // Every answer is held until all of them have one, so that their middleware chains run interleaved.
  const requests = 24;
  let release: () => void = () => undefined;
  const allAnswered = new Promise<void>((resolve) => (release = resolve));
  let answered = 0;
  const name = `hold-answers-${Math.random()}`;
  store.client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      if (++answered === requests) release();
      await allAnswered;
      return out;
    },
    { step: 'initialize', name },
  );
  const warned: string[] = [];
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    warned.push(String(chunk));
    return true;
  });
  try {
    const lines = await linesOf(() => Promise.all(Array.from({ length: requests }, () => api('GET', '/nodes/obs-1'))));
    const perOperation = emf(lines).filter((l) => l.operation === 'GetNode');
    expect(perOperation.reduce((sum, l) => sum + total(l, 'Requests'), 0)).toBe(requests);
    expect(warned.filter((w) => w.includes('No application metrics'))).toEqual([]);
  } finally {
    stderr.mockRestore();
    store.client.middlewareStack.remove(name);
  }
});

test('conflicts the store retried are counted', async () => {
  const conflicts = injectFaults(store, { command: 'TransactWriteItemsCommand', fault: 'conflict', times: 2 });
  try {
    const lines = await linesOf(() =>
      api('POST', '/nodes/obs-1/instances', {
        instanceUuid: `${UUID}3`,
        flavor: { vcpus: 1, memoryMb: 512, rootGb: 1 },
      }),
    );
    expect(lines.find((l) => l.message === 'request')).toMatchObject({ status: 201 });
    const service = emf(lines).find((l) => l.Retries !== undefined);
    expect(['Retries', 'Conflicts', 'Claims', 'Throttles'].map((name) => total(service, name))).toEqual([2, 2, 1, 0]);
  } finally {
    conflicts.remove();
  }
});

test('throttles the store retried are counted', async () => {
  // A node is read with its NUMA cells in one Query.
  const throttles = injectFaults(store, { command: 'QueryCommand', fault: 'throttle', times: 1 });
  try {
    const lines = await linesOf(() => api('GET', '/nodes/obs-1'));
    expect(lines.find((l) => l.message === 'request')).toMatchObject({ status: 200, operation: 'GetNode' });
    const service = emf(lines).find((l) => l.Retries !== undefined);
    expect(['Retries', 'Throttles', 'Conflicts'].map((name) => total(service, name))).toEqual([1, 1, 0]);
  } finally {
    throttles.remove();
  }
});

// Bad input answers 400 (or 404) with a clear message, and the ledger does not move.
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { F1, N0, uuid } from '../support/fixtures';
import { readLedger } from '../support/ledger';
import { freshTable } from '../support/table';

let store: Store;
const I = uuid();
beforeAll(async () => {
  store = await freshTable('bad-input');
  await api('PUT', '/nodes/n0', N0);
  await api('POST', '/nodes/n0/instances', { instanceUuid: I, flavor: F1 });
});

const claim = (body: unknown) => ['POST', '/nodes/n0/instances', body] as const;

const cases: [string, readonly [string, string, unknown?], number, RegExp][] = [
  ['malformed JSON', claim('{"instanceUuid": '), 400, /^Invalid body: not valid JSON\.$/],
  ['a JSON array', claim('[]'), 400, /Invalid body/],
  ['a missing flavor', claim({ instanceUuid: uuid() }), 400, /flavor/],
  ['a missing instanceUuid', claim({ flavor: F1 }), 400, /instanceUuid/],
  ['a bad UUID', claim({ instanceUuid: 'not-a-uuid', flavor: F1 }), 400, /instanceUuid: must be a UUID/],
  ['a string for a number', claim({ instanceUuid: uuid(), flavor: { ...F1, vcpus: '1' } }), 400, /flavor\.vcpus/],
  ['a negative count', claim({ instanceUuid: uuid(), flavor: { ...F1, memoryMb: -1 } }), 400, /flavor\.memoryMb/],
  ['a fractional count', claim({ instanceUuid: uuid(), flavor: { ...F1, vcpus: 0.5 } }), 400, /flavor\.vcpus/],
  ['a huge count', claim({ instanceUuid: uuid(), flavor: { ...F1, memoryMb: 1e300 } }), 400, /flavor\.memoryMb/],
  ['an unknown field', claim({ instanceUuid: uuid(), flavor: F1, colour: 'red' }), 400, /colour/],
  ['a released vmState in a claim', claim({ instanceUuid: uuid(), flavor: F1, vmState: 'deleted' }), 400, /vmState/],
  ['a negative limit', claim({ instanceUuid: uuid(), flavor: F1, limits: { vcpus: -1 } }), 400, /limits\.vcpus/],
  ['a bad node id', ['POST', '/nodes/%2e%2e/instances', { instanceUuid: uuid(), flavor: F1 }], 400, /nodeId/],
  ['a node inventory with a string', ['PUT', '/nodes/n0', { ...N0, vcpus: 'four' }], 400, /vcpus/],
  [
    'a node inventory with a zero ratio',
    ['PUT', '/nodes/n0', { ...N0, ramAllocationRatio: 0 }],
    400,
    /ramAllocationRatio/,
  ],
  ['a node inventory missing localGb', ['PUT', '/nodes/n0', { vcpus: 1, memoryMb: 1 }], 400, /localGb/],
  ['an empty state change', ['PATCH', `/nodes/n0/instances/${I}`, {}], 400, /at least one/],
  [
    'an unknown vmState',
    ['PATCH', `/nodes/n0/instances/${I}`, { vmState: 'sleeping' }],
    400,
    /vmState: must be one of/,
  ],
  ['a bad UUID in the path', ['GET', '/nodes/n0/instances/1234'], 400, /instanceUuid: must be a UUID/],
  ['an unknown node', ['GET', '/nodes/nope'], 404, /Node nope is not registered/],
  ['an unknown instance', ['GET', `/nodes/n0/instances/${uuid()}`], 404, /is not tracked on node n0/],
  [
    'an oversized body',
    claim(JSON.stringify({ instanceUuid: uuid(), flavor: F1, pad: 'x'.repeat(70_000) })),
    400,
    /larger than 65536 bytes/,
  ],
];

test.each(cases)(
  '%s → a 4xx with a clear message, nothing changes',
  async (_name, [method, path, body], status, message) => {
    const before = await readLedger(store, 'n0');
    const res = await api(method, path, body);
    expect(res.status).toBe(status);
    expect(res.body.error).toMatch(status === 400 ? /^ValidationError$/ : /NotFound$/);
    expect(res.body.message).toMatch(message);
    if (status === 400) expect(res.body.issues.length).toBeGreaterThan(0);
    expect(await readLedger(store, 'n0')).toEqual(before);
  },
);

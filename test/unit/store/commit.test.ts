// The commit step with a document client that never reaches DynamoDB (faults injected by hand): reasons
// mapped to item names, the retry's note of a write that may have committed, the device cache's upkeep.
import type { PciDevice } from '../../../lib/domain';
import { commit, reasonsByName, type NamedItem } from '../../../lib/store/commit';
import { classifyStartOver } from '../../../lib/store/outcomes';
import { RetryContext } from '../../../lib/store/retry';
import { cancelled, CCF, OK, offlineStore } from './fixtures';

const put = (sk: string): NamedItem['item'] => ({ Put: { TableName: 'unit', Item: { pk: 'NODE#n1', sk } } });
const items: NamedItem[] = [
  { name: 'node', item: put('NODE') },
  { name: 'instance', item: put('INSTANCE#i-1') },
  { name: 'device:0000:81:02.0', item: put('PCI#0000:81:02.0') },
];
const vf = (address: string): PciDevice =>
  ({
    address,
    vendorId: '8086',
    productId: '154c',
    deviceType: 'type-VF',
    parentAddress: '0000:81:00.0',
    numaNode: null,
    version: 1,
    busyChildren: 0,
  }) as unknown as PciDevice;
const devices = new Map([['0000:81:02.0', vf('0000:81:02.0')]]);
const timeout = () => Object.assign(new Error('socket timed out'), { name: 'TimeoutError' });

describe('reasonsByName', () => {
  it('gives each reason the name of the item sent at its index', () => {
    const byName = reasonsByName(items, [OK, CCF(), { Code: 'TransactionConflict' }]);
    expect([...byName]).toEqual([
      ['node', OK],
      ['instance', CCF()],
      ['device:0000:81:02.0', { Code: 'TransactionConflict' }],
    ]);
  });
  it('refuses two items of one name, which would hide one of their reasons', () => {
    expect(() => reasonsByName([items[0]!, items[0]!], [OK, OK])).toThrow(/both named node/);
  });
});

describe('commit', () => {
  it('sends the items in order and keeps the cache to what the write made', async () => {
    const sent: unknown[] = [];
    const store = offlineStore(async (command) => void sent.push((command as { input: unknown }).input));
    const outcome = await commit(
      store,
      new RetryContext<string>(),
      { items, devices: [{ nodeId: 'n1', after: devices }] },
      classifyStartOver,
    );
    expect(outcome).toEqual({ kind: 'committed' });
    expect(sent).toEqual([{ TransactItems: items.map((i) => i.item) }]);
    expect(store.devices.fresh('n1')).toBe(devices);
  });

  it('classifies a cancellation by name; a device given back is forgotten on failure', async () => {
    const store = offlineStore(async () => {
      throw cancelled(OK, CCF(), OK);
    });
    store.devices.remember('n1', devices);
    const seen: unknown[] = [];
    const outcome = await commit(
      store,
      new RetryContext<string>(),
      { items, devices: [{ nodeId: 'n1', after: devices }] },
      (r) => {
        seen.push([...r.keys()].filter((n) => r.get(n)?.Code === 'ConditionalCheckFailed'));
        return classifyStartOver(r);
      },
    );
    expect(outcome).toEqual({ kind: 'changed' });
    expect(seen).toEqual([['instance']]);
    expect(store.devices.fresh('n1')).toBeUndefined();
  });

  it('throws a transaction conflict without classifying it', async () => {
    const conflict = cancelled(OK, { Code: 'TransactionConflict' }, OK);
    const store = offlineStore(async () => {
      throw conflict;
    });
    const classify = jest.fn(classifyStartOver);
    await expect(commit(store, new RetryContext<string>(), { items }, classify)).rejects.toBe(conflict);
    expect(classify).not.toHaveBeenCalled();
  });

  it('throws the error when the reasons explain nothing', async () => {
    const invalid = cancelled(OK, { Code: 'ValidationError' }, OK);
    const store = offlineStore(async () => {
      throw invalid;
    });
    await expect(commit(store, new RetryContext<string>(), { items }, classifyStartOver)).rejects.toBe(invalid);
  });

  it('keeps the intent of a write that may have committed, and only of such a write', async () => {
    const context = new RetryContext<string>();
    const lost = offlineStore(async () => {
      throw timeout();
    });
    await expect(commit(lost, context, { items, intent: 'first' }, classifyStartOver)).rejects.toThrow(
      'socket timed out',
    );
    const refused = offlineStore(async () => {
      throw cancelled(OK, CCF(), OK);
    });
    await commit(refused, context, { items, intent: 'second' }, classifyStartOver);
    await expect(commit(lost, context, { items }, classifyStartOver)).rejects.toThrow();
    expect(context.intended).toEqual(['first']);
  });

  it("a claim's take: its hold ends either way; a lost race learns the first time, then forgets", async () => {
    const store = offlineStore(async () => {
      throw cancelled(OK, OK, CCF());
    });
    const context = new RetryContext<string>();
    const done = jest.fn();
    const learn = jest.fn();
    const write = {
      items,
      devices: [{ nodeId: 'n1', after: devices, done, take: { onRace: 'learn' as const, learn } }],
    };
    const raced = () => ({ kind: 'raced' as const });
    store.devices.remember('n1', devices);
    await commit(store, context, write, raced);
    expect([done.mock.calls.length, learn.mock.calls.length, context.races]).toEqual([1, 1, 1]);
    expect(learn.mock.calls[0]?.[0].get('device:0000:81:02.0')).toEqual(CCF());
    expect(store.devices.fresh('n1')).toBe(devices);
    await commit(store, context, write, raced);
    expect([done.mock.calls.length, learn.mock.calls.length, context.races]).toEqual([2, 1, 2]);
    expect(store.devices.fresh('n1')).toBeUndefined();
  });

  it('a take keeps the cache on a failure that is not a race', async () => {
    const store = offlineStore(async () => {
      throw timeout();
    });
    const done = jest.fn();
    store.devices.remember('n1', devices);
    const write = {
      items,
      devices: [{ nodeId: 'n1', after: devices, done, take: { onRace: 'forget' as const, learn: jest.fn() } }],
    };
    await expect(commit(store, new RetryContext<string>(), write, classifyStartOver)).rejects.toThrow();
    expect(done).toHaveBeenCalledTimes(1);
    expect(store.devices.fresh('n1')).toBe(devices);
  });
});

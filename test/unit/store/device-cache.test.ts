// The per-container device cache (extracted from devices.ts' module-level maps): freshness, the copy a
// committed write leaves, and the devices a claim of this container is taking.
import type { DeviceChange, PciDevice } from '../../../lib/domain';
import { DeviceCache } from '../../../lib/store';

const device = (address: string, over: Partial<PciDevice> = {}) =>
  ({
    address,
    vendorId: '8086',
    productId: '154c',
    deviceType: 'type-VF',
    numaNode: null,
    version: 1,
    busyChildren: 0,
    ...over,
  }) as PciDevice;

afterEach(() => jest.useRealTimers());

describe('DeviceCache', () => {
  it('keeps a copy for 2 s, then stops offering it', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const cache = new DeviceCache();
    const devices = new Map([['a', device('a')]]);
    cache.remember('n1', devices);
    jest.setSystemTime(1_001_999);
    expect(cache.fresh('n1')).toBe(devices);
    jest.setSystemTime(1_002_000);
    expect(cache.fresh('n1')).toBeUndefined();
  });

  it('a read that answers after a write of this container keeps the later versions the copy knows', () => {
    const cache = new DeviceCache();
    const taken = device('a', { version: 3, owner: 'i1' });
    cache.remember(
      'n1',
      new Map([
        ['a', taken],
        ['b', device('b', { version: 2 })],
      ]),
    );
    const read = new Map([
      ['a', device('a', { version: 2 })],
      ['b', device('b', { version: 4 })],
    ]);
    const kept = cache.remember('n1', read);
    expect(cache.fresh('n1')).toBe(kept);
    expect([...kept.values()]).toEqual([taken, device('b', { version: 4 })]);
  });

  it('a write computed from an old copy leaves a copy as old as that one, not a fresh one', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const cache = new DeviceCache();
    const old = new Map([['a', device('a')]]);
    cache.remember('n1', old);
    jest.setSystemTime(1_003_000);
    const after = new Map([['a', device('a', { version: 2, owner: 'i1' })]]);
    cache.derivedFrom(after, old);
    cache.written('n1', after, [
      { address: 'a', before: device('a'), after: device('a', { version: 2, owner: 'i1' }) },
    ]);
    expect(cache.fresh('n1')).toBeUndefined();
    const fresh = new Map([['a', device('a', { version: 2, owner: 'i1' })]]);
    cache.remember('n1', fresh);
    cache.written('n1', fresh);
    expect(cache.fresh('n1')).toBe(fresh);
  });

  it('is one per store unless shared: two caches know nothing of each other', () => {
    const one = new DeviceCache();
    one.remember('n1', new Map());
    expect(new DeviceCache().fresh('n1')).toBeUndefined();
  });

  it('applies a write to the fresh copy, a PF busy count by its delta from what the copy counts now', () => {
    const cache = new DeviceCache();
    const pf = device('pf', { deviceType: 'type-PF', busyChildren: 3 });
    cache.remember(
      'n1',
      new Map([
        ['pf', pf],
        ['a', device('a')],
        ['gone', device('gone')],
      ]),
    );
    const changes = [
      {
        address: 'pf',
        before: { ...pf, busyChildren: 1 },
        after: { ...pf, busyChildren: 2 },
        busy: { delta: 1, seen: 1 },
      },
      { address: 'a', before: device('a'), after: device('a', { owner: 'i-1', version: 2 }) },
      { address: 'gone', before: device('gone') },
    ] as DeviceChange[];
    cache.written('n1', new Map(), changes);
    const copy = cache.fresh('n1');
    expect(copy?.get('pf')?.busyChildren).toBe(4);
    expect(copy?.get('a')?.owner).toBe('i-1');
    expect(copy?.has('gone')).toBe(false);
  });

  it('without changes (or without a fresh copy), the copy becomes what the write made', () => {
    const cache = new DeviceCache();
    const after = new Map([['b', device('b')]]);
    cache.written('n1', after);
    expect(cache.fresh('n1')).toBe(after);
  });

  it('shows devices being taken by this container as taken until the hold ends', () => {
    const cache = new DeviceCache();
    const devices = new Map([
      ['a', device('a')],
      ['b', device('b')],
    ]);
    const done = cache.hold('n1', ['a']);
    expect(cache.withoutTaking('n1', devices).get('a')?.owner).toBe('(being taken)');
    expect(cache.withoutTaking('n1', devices).get('b')?.owner).toBeUndefined();
    expect(cache.withoutTaking('n2', devices)).toBe(devices);
    done();
    expect(cache.withoutTaking('n1', devices)).toBe(devices);
  });

  it('shares a read in flight among the claims that need one, but not one begun before the copy was forgotten', async () => {
    const cache = new DeviceCache();
    const answers: ((n: number) => void)[] = [];
    const read = () => new Promise<number>((resolve) => answers.push(resolve));
    const [first, second] = [cache.shared('n1', read), cache.shared('n1', read)];
    expect(answers).toHaveLength(1);
    cache.forget('n1');
    const third = cache.shared('n1', read);
    expect(answers).toHaveLength(2);
    void cache.shared('n2', async () => 0);
    expect(answers).toHaveLength(2);
    answers[0]?.(1);
    answers[1]?.(2);
    expect(await Promise.all([first, second, third])).toEqual([1, 1, 2]);
    // Once answered, the next need reads again.
    expect(await cache.shared('n1', async () => 3)).toBe(3);
  });

  describe("clash: what a write waits for among this container's writes in flight (rule P6)", () => {
    const flip = (address: string, delta: number, seen: number): DeviceChange => ({
      address,
      before: device(address, { deviceType: 'type-PF', busyChildren: seen }),
      after: device(address, { deviceType: 'type-PF', busyChildren: seen + delta, version: 2 }),
      busy: { delta, seen },
    });
    const settled = async (p: Promise<void> | undefined) =>
      Promise.race([p?.then(() => 'settled'), new Promise((r) => setTimeout(() => r('waiting'), 20))]);

    it('a first VF of a PF waits for another claim flipping that PF, until that write is done', async () => {
      const cache = new DeviceCache();
      const done = cache.hold('n1', ['v1'], [flip('pf', 1, 0)]);
      expect(cache.clash('n1', [flip('other-pf', 1, 0)])).toBeUndefined();
      expect(cache.clash('n2', [flip('pf', 1, 0)])).toBeUndefined();
      const wait = cache.clash('n1', [flip('pf', 1, 0)]);
      expect(await settled(wait)).toBe('waiting');
      done();
      expect(await settled(wait)).toBe('settled');
      expect(cache.clash('n1', [flip('pf', 1, 0)])).toBeUndefined();
    });

    it('claims of a PF in use do not wait for each other; a release that could be the last does', () => {
      const cache = new DeviceCache();
      cache.hold('n1', ['v1'], [flip('pf', 1, 3)]);
      expect(cache.clash('n1', [flip('pf', 1, 3)])).toBeUndefined();
      cache.hold('n1', [], [flip('pf', -1, 3)]);
      cache.hold('n1', [], [flip('pf', -1, 3)]);
      expect(cache.clash('n1', [flip('pf', -1, 3)])).toBeDefined();
    });

    it('a write never done stops counting after 2 s', async () => {
      jest.useFakeTimers({ now: 1_000_000 });
      const cache = new DeviceCache();
      cache.hold('n1', ['v1'], [flip('pf', 1, 0)]);
      jest.setSystemTime(1_001_500);
      const wait = cache.clash('n1', [flip('pf', 1, 0)]);
      expect(wait).toBeDefined();
      jest.advanceTimersByTime(500);
      await expect(wait).resolves.toBeUndefined();
      jest.setSystemTime(1_002_000);
      expect(cache.clash('n1', [flip('pf', 1, 0)])).toBeUndefined();
    });
  });
});

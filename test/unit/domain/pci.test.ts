// PCI devices: pools, which devices a claim may take, the search that chooses them, and what taking,
// freeing and a new hypervisor report change.
import {
  allocate,
  applyChanges,
  busyAtRisk,
  busyCondition,
  byAddress,
  choose,
  claimable,
  matches,
  poolDeltas,
  poolKey,
  pools,
  reconcile,
  release,
  type DeviceChange,
  type Devices,
  type PciDevice,
  type PciDeviceSpec,
  type PciPool,
  type PciRequestSpec,
} from '../../../lib/domain';
import { seeded } from './fixtures';

type Spec = PciRequestSpec['spec'][number];

const SEEDS = Array.from({ length: 50 }, (_, i) => i);

/** A free, present type-PCI device at version 1. */
const dev = (address: string, over: Partial<PciDevice> = {}): PciDevice => ({
  address,
  vendorId: '8086',
  productId: '1520',
  numaNode: 0,
  deviceType: 'type-PCI',
  busyChildren: 0,
  version: 1,
  ...over,
});
const pf = (address: string, over: Partial<PciDevice> = {}) =>
  dev(address, { productId: '154d', deviceType: 'type-PF', ...over });
const vf = (address: string, parent: string, over: Partial<PciDevice> = {}) =>
  dev(address, { productId: '10ed', deviceType: 'type-VF', parentAddress: parent, ...over });

/** `pfs` PFs p0, p1, … with `vfs` free VFs each (p0.0, p0.1, …). */
const sriov = (pfs: number, vfs: number): Map<string, PciDevice> =>
  byAddress(
    Array.from({ length: pfs }, (_, p) => [
      pf(`p${p}`),
      ...Array.from({ length: vfs }, (_, v) => vf(`p${p}.${v}`, `p${p}`)),
    ]).flat(),
  );

const node = (...devices: PciDevice[]) => byAddress(devices);
/** The devices after `owner` took `addresses`. */
const taken = (devices: Devices, addresses: string[], owner = 'I1') =>
  applyChanges(devices, allocate(devices, addresses, owner));
const ask = (count: number, ...spec: Spec[]): PciRequestSpec => ({ count, spec });
const VF = ask(1, { deviceType: 'type-VF' });
const PF = ask(1, { deviceType: 'type-PF' });
const changesByAddress = (changes: DeviceChange[]) => Object.fromEntries(changes.map((c) => [c.address, c]));
const specOf = ({ owner: _o, removed: _r, busyChildren: _b, version: _v, ...spec }: PciDevice): PciDeviceSpec => spec;
const pool = (devices: Devices, d: PciDevice) => pools(devices).get(poolKey(d));
/** The PF of a VF of sriov(): p1.0 → p1. */
const parentOf = (address: string | undefined) => address?.split('.')[0];

/** A change of each field that decides a device's pool, from dev()'s values. */
const POOL_FIELD_CHANGES: [keyof PciDeviceSpec, unknown][] = [
  ['vendorId', '15b3'],
  ['productId', '1521'],
  ['numaNode', 1],
  ['deviceType', 'type-VF'],
  ['physicalNetwork', 'physnet1'],
];

describe('pools', () => {
  test.each(POOL_FIELD_CHANGES)('devices that differ in %s are in different pools', (field, value) => {
    const other = dev('b', { [field]: value });
    expect(poolKey(other)).not.toBe(poolKey(dev('a')));
    expect(pools(node(dev('a'), other)).size).toBe(2);
  });

  test('devices that differ only in address, parent, owner or version share a pool', () => {
    const devices = node(dev('a'), dev('b', { parentAddress: 'x', owner: 'I1', version: 7 }));
    expect([...pools(devices).values()]).toEqual([
      { vendorId: '8086', productId: '1520', numaNode: 0, deviceType: 'type-PCI', count: 2, free: 1 },
    ]);
  });

  test('a NUMA node of null is a pool of its own', () => {
    expect(pools(node(dev('a', { numaNode: null }), dev('b'))).size).toBe(2);
  });

  test('a pool names its physical network only when its devices have one', () => {
    const [withNet, without] = [...pools(node(dev('a', { physicalNetwork: 'physnet1' }), dev('b'))).values()];
    expect(withNet).toMatchObject({ physicalNetwork: 'physnet1', count: 1, free: 1 });
    expect(without && 'physicalNetwork' in without).toBe(false);
  });

  test('count is the devices present, free the ones a claim could take now', () => {
    const devices = node(
      dev('a'),
      dev('b', { owner: 'I1' }),
      dev('c', { owner: 'I2', removed: true }),
      dev('d', { removed: true }),
      dev('e'),
    );
    expect(pool(devices, dev('a'))).toMatchObject({ count: 3, free: 2 });
  });

  test('a pool whose devices are all removed is not shown', () => {
    expect(pools(node(dev('a', { owner: 'I1', removed: true }))).size).toBe(0);
  });

  test('a PF with a busy VF is counted but not free; the VFs of a taken PF are counted but not free', () => {
    const devices = taken(sriov(2, 2), ['p0.0', 'p1']);
    expect(pool(devices, pf('p0'))).toMatchObject({ count: 2, free: 0 });
    expect(pool(devices, vf('p0.1', 'p0'))).toMatchObject({ count: 4, free: 1 });
  });
});

describe('claimable: whether a claim may take a device', () => {
  const p0 = pf('p0');
  test.each<[string, PciDevice, PciDevice[], boolean]>([
    ['a free, present device', dev('a'), [], true],
    ['an owned device', dev('a', { owner: 'I1' }), [], false],
    ['a removed device', dev('a', { removed: true }), [], false],
    ['a PF none of whose VFs is owned', p0, [], true],
    ['a PF with a busy VF', pf('p0', { busyChildren: 1 }), [], false],
    ['an owned PF', pf('p0', { owner: 'I1' }), [], false],
    ['a VF whose PF is free', vf('v', 'p0'), [p0], true],
    ['a VF whose PF is owned', vf('v', 'p0'), [pf('p0', { owner: 'I1' })], false],
    ['a VF whose PF is not tracked', vf('v', 'p0'), [], true],
    ['an owned VF', vf('v', 'p0', { owner: 'I1' }), [p0], false],
    ['a removed VF', vf('v', 'p0', { removed: true }), [p0], false],
  ])('%s', (_, d, others, expected) => {
    expect(claimable(d, node(d, ...others))).toBe(expected);
  });
});

describe('matches: every key of a spec entry equals the device field', () => {
  const d = dev('a', { physicalNetwork: 'physnet1' });
  test.each<[string, Spec, boolean]>([
    ['an empty entry matches any device', {}, true],
    ['the vendor equal', { vendorId: '8086' }, true],
    ['the vendor different', { vendorId: '15b3' }, false],
    ['the product equal', { productId: '1520' }, true],
    ['the product different', { productId: '1521' }, false],
    ['the type equal', { deviceType: 'type-PCI' }, true],
    ['the type different', { deviceType: 'type-VF' }, false],
    ['the physical network equal', { physicalNetwork: 'physnet1' }, true],
    ['the physical network different', { physicalNetwork: 'physnet2' }, false],
    [
      'all keys equal',
      { vendorId: '8086', productId: '1520', deviceType: 'type-PCI', physicalNetwork: 'physnet1' },
      true,
    ],
    ['one key of several different', { vendorId: '8086', productId: '1520', deviceType: 'type-PF' }, false],
    ['a key given as undefined asks nothing', { vendorId: undefined }, true],
    ['a key the device does not have', { color: 'red' }, false],
  ])('%s', (_, spec, expected) => {
    expect(matches(d, spec)).toBe(expected);
  });

  test('a physical network asked of a device without one does not match', () => {
    expect(matches(dev('a'), { physicalNetwork: 'physnet1' })).toBe(false);
  });
});

/** The rules a choice must keep, checked from scratch: one distinct, claimable, fitting device a slot. */
function meets(devices: Devices, requests: PciRequestSpec[], picks: string[]): boolean {
  const slots = requests.flatMap((r) => Array.from({ length: r.count }, () => r.spec));
  if (picks.length !== slots.length || new Set(picks).size !== picks.length) return false;
  return picks.every((address, i) => {
    const d = devices.get(address);
    const fits = (s: Spec) =>
      Object.entries(s).every(([k, v]) => (d as unknown as Record<string, unknown>)[k] === v) &&
      (d?.deviceType !== 'type-PF' || s.deviceType === 'type-PF');
    const related = picks.some((o) => d?.parentAddress === o || devices.get(o)?.parentAddress === address);
    return d !== undefined && claimable(d, devices) && (slots[i] ?? []).some(fits) && !related;
  });
}

/** Whether any choice meets the requests: every assignment of devices to slots, tried. */
function canBeMet(devices: Devices, requests: PciRequestSpec[]): boolean {
  const n = requests.reduce((sum, r) => sum + r.count, 0);
  const all = [...devices.keys()];
  const tryFrom = (picks: string[]): boolean =>
    picks.length === n
      ? meets(devices, requests, picks)
      : all.some((a) => !picks.includes(a) && tryFrom([...picks, a]));
  return tryFrom([]);
}

describe('choose: devices for every request of a claim', () => {
  test('every request is met by distinct devices', () => {
    const devices = node(dev('a'), dev('b'), dev('c'));
    const picks = choose(devices, [ask(2, {}), ask(1, {})], seeded(1));
    expect(new Set(picks)).toEqual(new Set(['a', 'b', 'c']));
  });

  test('a request takes devices that match any one of its entries', () => {
    const devices = node(dev('a', { productId: 'x' }), dev('b', { productId: 'y' }), dev('c', { productId: 'z' }));
    expect(choose(devices, [ask(2, { productId: 'x' }, { productId: 'z' })], seeded(1))?.sort()).toEqual(['a', 'c']);
  });

  test('devices are returned in the order of the requests', () => {
    const devices = node(dev('a', { productId: 'x' }), dev('b', { productId: 'y' }));
    expect(choose(devices, [ask(1, { productId: 'y' }), ask(1, { productId: 'x' })])).toEqual(['b', 'a']);
  });

  test.each<[string, Spec[], string[] | undefined]>([
    ['not for an entry that asks no type', [{}], undefined],
    ['not for an entry that matches it by vendor', [{ vendorId: '8086' }], undefined],
    ['for an entry that asks type-PF', [{ deviceType: 'type-PF' }], ['p0']],
    ['for the one entry of several that asks type-PF', [{ productId: 'none' }, { deviceType: 'type-PF' }], ['p0']],
  ])('a PF is taken only when an entry asks for type-PF: %s', (_, spec, expected) => {
    expect(choose(node(pf('p0')), [{ count: 1, spec }])).toEqual(expected);
  });

  test('VFs and other devices are taken by entries that ask no type', () => {
    const devices = node(pf('p0'), vf('v', 'p0'), dev('a'));
    expect(choose(devices, [ask(2, {})])?.sort()).toEqual(['a', 'v']);
  });

  test.each<[string, PciDevice]>([
    ['owned', dev('a', { owner: 'I1' })],
    ['removed', dev('a', { removed: true })],
    ['a PF with a busy VF', pf('a', { busyChildren: 1 })],
  ])('a device that is %s is not taken', (_, d) => {
    expect(choose(node(d), [ask(1, {}, { deviceType: 'type-PF' })])).toBeUndefined();
  });

  test.each(SEEDS)('taking a PF excludes its VFs from the later requests of the claim (seed %d)', (seed) => {
    const devices = sriov(2, 1);
    expect(choose(node(pf('p0'), vf('p0.0', 'p0')), [PF, VF], seeded(seed))).toBeUndefined();
    const [p, v] = choose(devices, [PF, VF], seeded(seed)) ?? [];
    expect(p).toBeDefined();
    expect(parentOf(v)).not.toBe(p);
  });

  test.each(SEEDS)('taking a VF excludes its parent PF from the later requests of the claim (seed %d)', (seed) => {
    expect(choose(node(pf('p0'), vf('p0.0', 'p0')), [VF, PF], seeded(seed))).toBeUndefined();
    const [v, p] = choose(sriov(2, 1), [VF, PF], seeded(seed)) ?? [];
    expect(p).toBeDefined();
    expect(parentOf(v)).not.toBe(p);
  });

  test.each([
    ['more devices than there are', [ask(4, {})]],
    ['more devices than match', [ask(2, { productId: '1520' }), ask(1, { productId: '1520' })]],
    ['a device nothing matches', [ask(1, { vendorId: '15b3' })]],
    ['a second request for the device the first needs', [ask(3, {}), ask(1, { physicalNetwork: 'physnet1' })]],
  ])('undefined when the requests cannot all be met: %s', (_, requests) => {
    const devices = node(dev('a'), dev('b', { physicalNetwork: 'physnet1' }), dev('c', { productId: 'x' }));
    for (const seed of SEEDS) expect(choose(devices, requests, seeded(seed))).toBeUndefined();
  });

  test('no requests take no devices', () => {
    expect(choose(node(dev('a')), [])).toEqual([]);
  });

  test('the same random gives the same choice; among equal candidates each is chosen by some random', () => {
    const devices = sriov(1, 4);
    expect(choose(devices, [VF], seeded(7))).toEqual(choose(devices, [VF], seeded(7)));
    const chosen = new Set(SEEDS.map((seed) => choose(devices, [VF], seeded(seed))?.[0]));
    expect(chosen).toEqual(new Set(['p0.0', 'p0.1', 'p0.2', 'p0.3']));
  });

  test('a VF of a PF already in use comes first (rule P6), random among those: claims spread over its free VFs', () => {
    // p1 has a busy VF: taking another of its VFs flips no PF; p0's and p2's VFs would make their PFs busy.
    const devices = taken(sriov(3, 4), ['p1.0']);
    const chosen = SEEDS.map((seed) => choose(devices, [VF], seeded(seed))?.[0]);
    expect(new Set(chosen)).toEqual(new Set(['p1.1', 'p1.2', 'p1.3']));
    // With no PF in use, any VF may come first.
    const fresh = new Set(SEEDS.map((seed) => parentOf(choose(sriov(3, 4), [VF], seeded(seed))?.[0])));
    expect(fresh).toEqual(new Set(['p0', 'p1', 'p2']));
  });

  test('the preference never refuses a claim: with the used PF full, a VF of another PF is taken', () => {
    const devices = taken(sriov(2, 2), ['p1.0', 'p1.1']);
    for (const seed of SEEDS) expect(parentOf(choose(devices, [VF], seeded(seed))?.[0])).toBe('p0');
  });

  // The first request can take either device; the second only 'net'. Whichever the first tries first,
  // the search must leave 'net' to the second.
  test.each([0, 0.5, 0.999])(
    'backs up when the first request took the only device the second can use (random() = %s)',
    (r) => {
      const devices = node(dev('net', { physicalNetwork: 'physnet1' }), dev('other'));
      expect(choose(devices, [ask(1, {}), ask(1, { physicalNetwork: 'physnet1' })], () => r)).toEqual(['other', 'net']);
    },
  );

  test.each(SEEDS)('backs up to take a PF whose VFs an earlier request might have taken (seed %d)', (seed) => {
    const picks = choose(sriov(2, 2), [ask(2, { deviceType: 'type-VF' }), PF], seeded(seed));
    expect(picks && meets(sriov(2, 2), [ask(2, { deviceType: 'type-VF' }), PF], picks)).toBe(true);
  });

  // Two PFs of 16 VFs, nothing taken: the VFs must all come from one PF for the other to be free.
  test.each([8, 16])('on an empty node of 2 PFs x 16 VFs, %d VFs and then a PF are found', (n) => {
    const devices = sriov(2, 16);
    const requests = [ask(n, { deviceType: 'type-VF' }), PF];
    for (const seed of SEEDS.slice(0, 10)) {
      const picks = choose(devices, requests, seeded(seed));
      expect(picks && meets(devices, requests, picks)).toBe(true);
    }
  });

  test.each(SEEDS)(
    'on a random node, a claim is met exactly when it can be, by devices that keep the rules (seed %d)',
    (seed) => {
      const rng = seeded(seed + 1000);
      const devices = randomNode(rng, 6);
      const requests = Array.from({ length: 1 + Math.floor(rng() * 3) }, () => randomRequest(rng));
      const picks = choose(devices, requests, rng);
      expect(picks !== undefined).toBe(canBeMet(devices, requests));
      if (picks) expect(meets(devices, requests, picks)).toBe(true);
    },
  );
});

describe('allocate: taking devices', () => {
  test('the device gets its owner and a new version; the change carries the device as read', () => {
    const devices = node(dev('a', { version: 3 }), dev('b'));
    expect(allocate(devices, ['a'], 'I1')).toEqual([
      { address: 'a', before: dev('a', { version: 3 }), after: dev('a', { version: 4, owner: 'I1' }) },
    ]);
  });

  test("a VF's PF counts one more busy VF and gets a new version", () => {
    const changes = changesByAddress(allocate(sriov(1, 2), ['p0.0'], 'I1'));
    expect(changes.p0?.after).toEqual(pf('p0', { busyChildren: 1, version: 2 }));
    expect(changes.p0?.before).toEqual(pf('p0'));
  });

  test('two VFs of one PF: one change of the PF, two more busy VFs', () => {
    const changes = allocate(sriov(1, 2), ['p0.0', 'p0.1'], 'I1');
    expect(changes.map((c) => c.address).sort()).toEqual(['p0', 'p0.0', 'p0.1']);
    expect(changesByAddress(changes).p0?.after).toMatchObject({ busyChildren: 2, version: 2 });
  });

  test('the PF change says by how much its busy count changes and what it read', () => {
    const devices = taken(sriov(1, 3), ['p0.0']);
    expect(changesByAddress(allocate(devices, ['p0.1', 'p0.2'], 'I2')).p0?.busy).toEqual({ delta: 2, seen: 1 });
    expect(changesByAddress(allocate(sriov(1, 1), ['p0'], 'I1')).p0?.busy).toBeUndefined();
  });

  test('taking a PF, a plain device or a VF whose PF is not tracked changes only that device', () => {
    expect(allocate(sriov(1, 1), ['p0'], 'I1').map((c) => c.address)).toEqual(['p0']);
    expect(allocate(node(vf('v', 'gone')), ['v'], 'I1').map((c) => c.address)).toEqual(['v']);
  });

  test('the devices passed in are not changed', () => {
    const devices = sriov(1, 1);
    const copy = structuredClone(devices);
    allocate(devices, ['p0.0'], 'I1');
    expect(devices).toEqual(copy);
  });
});

describe('release: giving devices back', () => {
  test("the owner's device is free again with a new version", () => {
    const devices = taken(node(dev('a')), ['a']);
    const [change] = release(devices, ['a'], 'I1');
    expect(change?.after).toEqual(dev('a', { version: 3 }));
    expect(change?.after && 'owner' in change.after).toBe(false);
  });

  test('devices of another owner and unknown addresses are left alone', () => {
    const devices = taken(taken(node(dev('a'), dev('b')), ['a']), ['b'], 'I2');
    expect(release(devices, ['a', 'b', 'zz'], 'I1').map((c) => c.address)).toEqual(['a']);
  });

  test("a VF's PF counts one busy VF less and gets a new version", () => {
    const devices = taken(sriov(1, 2), ['p0.0', 'p0.1']);
    const changes = changesByAddress(release(devices, ['p0.0'], 'I1'));
    expect(changes.p0?.after).toMatchObject({ busyChildren: 1, version: 3 });
    expect(changes.p0?.busy).toEqual({ delta: -1, seen: 2 });
  });

  test('a removed device is deleted instead of freed', () => {
    const devices = node(dev('a', { owner: 'I1', removed: true }));
    expect(release(devices, ['a'], 'I1')).toEqual([{ address: 'a', before: devices.get('a'), after: undefined }]);
  });

  test('a removed PF goes with the release of its last busy VF, not before', () => {
    const devices = new Map(taken(sriov(1, 2), ['p0.0', 'p0.1']));
    devices.set('p0', { ...(devices.get('p0') as PciDevice), removed: true });
    expect(changesByAddress(release(devices, ['p0.0'], 'I1')).p0?.after).toMatchObject({
      busyChildren: 1,
      removed: true,
    });
    expect(changesByAddress(release(devices, ['p0.0', 'p0.1'], 'I1')).p0?.after).toBeUndefined();
  });

  test('taking and giving back leaves the pools as they were', () => {
    const before = sriov(2, 2);
    const after = taken(before, ['p0.0', 'p0.1', 'p1']);
    expect(pools(applyChanges(after, release(after, ['p0.0', 'p0.1', 'p1'], 'I1')))).toEqual(pools(before));
  });
});

describe("busyCondition: what a change of a PF's busy count must find", () => {
  test.each([
    ['the first busy VF: exactly none busy', { delta: 1, seen: 0 }, { exactly: 0 }],
    ['the last busy VF freed: exactly that one busy', { delta: -1, seen: 1 }, { exactly: 1 }],
    ['all busy VFs freed at once: exactly those busy', { delta: -2, seen: 2 }, { exactly: 2 }],
    ['one more busy VF: at least one busy', { delta: 1, seen: 3 }, { atLeast: 1 }],
    ['one of several freed: at least two busy', { delta: -1, seen: 3 }, { atLeast: 2 }],
    ['two of several freed: at least three busy', { delta: -2, seen: 5 }, { atLeast: 3 }],
  ])('%s', (_, busy, expected) => {
    expect(busyCondition(busy)).toEqual(expected);
  });
});

describe("busyAtRisk: whether writes in flight on a PF can make a write's busy condition fail (rule P6)", () => {
  test.each([
    ['nothing in flight', { delta: 1, seen: 0 }, [], false],
    ['a first busy VF while another claim is in flight', { delta: 1, seen: 0 }, [1], true],
    ['the last VF freed while another release is in flight', { delta: -1, seen: 1 }, [-1], true],
    ['one more busy VF while other claims are in flight', { delta: 1, seen: 2 }, [1, 1], false],
    ['one more busy VF while releases in flight could free them all', { delta: 1, seen: 2 }, [-1, -1], true],
    ['one of 4 freed while two other releases are in flight', { delta: -1, seen: 4 }, [-1, -1], false],
    ['one of 4 freed while three other releases are in flight', { delta: -1, seen: 4 }, [-1, -1, -1], true],
  ])('%s', (_, busy, inFlight, expected) => {
    expect(busyAtRisk(busy, inFlight)).toBe(expected);
  });
});

const reported = (devices: Devices) => [...devices.values()].filter((d) => !d.removed).map(specOf);

describe("reconcile: the hypervisor's new report", () => {
  test('an unchanged report changes nothing, whoever holds the devices', () => {
    const devices = taken(sriov(2, 2), ['p0.0', 'p1']);
    expect(reconcile(devices, reported(devices))).toEqual([]);
  });

  test('a new device appears free at version 1', () => {
    expect(reconcile(new Map(), [specOf(dev('a'))])).toEqual([{ address: 'a', after: dev('a') }]);
  });

  test("a new device starts at the store's first version (rule P7); a device already there adds 1", () => {
    const devices = node(dev('a', { productId: 'old' }));
    const changes = reconcile(devices, [specOf(dev('a')), specOf(dev('b'))], 1_700_000_000_000_000);
    expect(changes).toEqual([
      { address: 'a', before: devices.get('a'), after: dev('a', { version: 2 }) },
      { address: 'b', after: dev('b', { version: 1_700_000_000_000_000 }) },
    ]);
  });

  test('a free device gone from the report is deleted', () => {
    const devices = node(dev('a'), dev('b'));
    expect(reconcile(devices, [specOf(dev('b'))])).toEqual([{ address: 'a', before: dev('a'), after: undefined }]);
  });

  test('an owned device gone from the report is kept, marked removed', () => {
    const devices = taken(node(dev('a')), ['a']);
    expect(reconcile(devices, [])).toEqual([
      { address: 'a', before: devices.get('a'), after: dev('a', { owner: 'I1', removed: true, version: 3 }) },
    ]);
  });

  test('a PF gone from the report while its VFs are busy is kept, marked removed', () => {
    const devices = taken(sriov(1, 1), ['p0.0']);
    expect(changesByAddress(reconcile(devices, [specOf(vf('p0.0', 'p0'))])).p0?.after).toMatchObject({
      removed: true,
      busyChildren: 1,
    });
  });

  test('a removed device reported again is present again, still owned', () => {
    const devices = node(dev('a', { owner: 'I1', removed: true, version: 4 }));
    expect(reconcile(devices, [specOf(dev('a'))])).toEqual([
      { address: 'a', before: devices.get('a'), after: dev('a', { owner: 'I1', version: 5 }) },
    ]);
  });

  test.each([...POOL_FIELD_CHANGES, ['parentAddress', 'p9']])(
    'a free device whose %s changed takes the new description',
    (field, value) => {
      const next = { ...specOf(dev('a')), [field]: value };
      expect(reconcile(node(dev('a', { version: 2 })), [next])).toEqual([
        { address: 'a', before: dev('a', { version: 2 }), after: { ...next, busyChildren: 0, version: 3 } },
      ]);
    },
  );

  test('an owned device whose description changed keeps its own', () => {
    const devices = taken(node(dev('a')), ['a']);
    const [change] = reconcile(devices, [specOf(dev('a', { vendorId: '15b3' }))]);
    expect(change?.after).toEqual({ ...devices.get('a'), version: 3 });
  });

  test.each<[string, (devices: Devices) => PciDeviceSpec[]]>([
    ['a VF is added', (ds) => [...reported(ds), specOf(vf('p0.9', 'p0'))]],
    ['a VF is deleted', (ds) => reported(ds).filter((d) => d.address !== 'p0.1')],
    ['a VF changes', (ds) => reported(ds).map((d) => (d.address === 'p0.1' ? { ...d, numaNode: 1 } : d))],
    ['an owned VF goes', (ds) => reported(ds).filter((d) => d.address !== 'p0.0')],
  ])('when %s, its PF gets a new version too, and nothing else of it changes', (_, report) => {
    const devices = taken(sriov(2, 2), ['p0.0']);
    const changes = changesByAddress(reconcile(devices, report(devices)));
    expect(changes.p0).toEqual({
      address: 'p0',
      before: devices.get('p0'),
      after: { ...devices.get('p0'), version: 3 },
    });
    expect(changes.p1).toBeUndefined();
  });

  test('a VF moved to another PF gives both PFs a new version', () => {
    const devices = sriov(2, 1);
    const report = reported(devices).map((d) => (d.address === 'p0.0' ? { ...d, parentAddress: 'p1' } : d));
    expect(
      reconcile(devices, report)
        .map((c) => c.address)
        .sort(),
    ).toEqual(['p0', 'p0.0', 'p1']);
  });

  test('a PF changes once however many of its VFs change, and not again when it changes itself', () => {
    const devices = sriov(1, 3);
    const changes = reconcile(devices, [specOf(pf('p0', { numaNode: 1 }))]);
    expect(changes.map((c) => c.address).sort()).toEqual(['p0', 'p0.0', 'p0.1', 'p0.2']);
    expect(changesByAddress(changes).p0?.after).toEqual(pf('p0', { numaNode: 1, version: 2 }));
  });

  test('a PF reported again while one of its VFs is owned counts that VF busy', () => {
    let devices = taken(sriov(1, 1), ['p0.0']);
    devices = applyChanges(devices, reconcile(devices, [specOf(vf('p0.0', 'p0'))]));
    devices = applyChanges(devices, reconcile(devices, reported(sriov(1, 1))));
    expect(devices.get('p0')).toMatchObject({ busyChildren: 1 });
    expect(claimable(devices.get('p0') as PciDevice, devices)).toBe(false);
  });

  test('a PF reported for the first time while one of its VFs is owned counts that VF busy', () => {
    let devices: Devices = taken(node(vf('p0.0', 'p0')), ['p0.0']);
    devices = applyChanges(devices, reconcile(devices, [specOf(vf('p0.0', 'p0')), specOf(pf('p0'))]));
    expect(devices.get('p0')).toMatchObject({ busyChildren: 1 });
    expect(choose(devices, [PF])).toBeUndefined();
  });
});

describe('poolDeltas: how the pools change', () => {
  test('nothing changed, no deltas', () => {
    expect(poolDeltas(sriov(1, 2), sriov(1, 2)).size).toBe(0);
  });

  test('only the pools whose devices changed, as count and free deltas with the pool they apply to', () => {
    const before = node(dev('a'), dev('b'), dev('c', { productId: 'x' }));
    expect([...poolDeltas(before, taken(before, ['a'])).values()]).toEqual([
      { pool: { vendorId: '8086', productId: '1520', numaNode: 0, deviceType: 'type-PCI' }, count: 0, free: -1 },
    ]);
  });

  test.each<[string, Devices, Devices, { count: number; free: number }]>([
    ['a new device', node(), node(dev('a')), { count: 1, free: 1 }],
    ['a deleted device', node(dev('a')), node(), { count: -1, free: -1 }],
    [
      'an owned device marked removed',
      node(dev('a', { owner: 'I1' })),
      node(dev('a', { owner: 'I1', removed: true })),
      { count: -1, free: 0 },
    ],
  ])('%s', (_, before, after, expected) => {
    expect(poolDeltas(before, after).get(poolKey(dev('a')))).toMatchObject(expected);
  });

  test("taking a PF lowers the free of its VFs' pool by its free VFs", () => {
    const before = taken(sriov(2, 3), ['p0.0']);
    const deltas = poolDeltas(before, taken(before, ['p1']));
    expect(deltas.get(poolKey(pf('p1')))).toMatchObject({ count: 0, free: -1 });
    expect(deltas.get(poolKey(vf('p1.0', 'p1')))).toMatchObject({ count: 0, free: -3 });
  });

  test("taking the first VF of a PF lowers the free of the PFs' pool; the second does not", () => {
    const once = taken(sriov(1, 2), ['p0.0']);
    expect(poolDeltas(sriov(1, 2), once).get(poolKey(pf('p0')))).toMatchObject({ free: -1 });
    expect(poolDeltas(once, taken(once, ['p0.1'])).has(poolKey(pf('p0')))).toBe(false);
  });

  test.each(SEEDS)('applied to the pools before, the deltas give the pools after (seed %d)', (seed) => {
    const rng = seeded(seed);
    let devices: Devices = randomNode(rng, 8);
    for (let step = 0; step < 20; step++) {
      const next = applyChanges(devices, randomChanges(rng, devices, `I${step}`));
      expect(plus(pools(devices), poolDeltas(devices, next))).toEqual(pools(next));
      devices = next;
    }
  });
});

describe("a PF's busy count", () => {
  test.each(SEEDS)(
    'whatever claims, releases and reports come, a PF counts exactly its owned VFs busy (seed %d)',
    (seed) => {
      const rng = seeded(seed + 500);
      let devices: Devices = randomNode(rng, 8);
      for (let step = 0; step < 20; step++) {
        devices = applyChanges(devices, randomChanges(rng, devices, `I${step}`));
        for (const d of devices.values()) {
          if (d.deviceType !== 'type-PF') continue;
          const owned = [...devices.values()].filter((v) => v.parentAddress === d.address && v.owner !== undefined);
          expect({ address: d.address, busy: d.busyChildren }).toEqual({ address: d.address, busy: owned.length });
        }
      }
    },
  );
});

/** Pools plus deltas, without the pools left empty. */
function plus(before: Map<string, PciPool>, deltas: ReturnType<typeof poolDeltas>): Map<string, PciPool> {
  const out = new Map([...before].map(([k, p]) => [k, { ...p }]));
  for (const [key, delta] of deltas) {
    const p = out.get(key) ?? { ...delta.pool, count: 0, free: 0 };
    out.set(key, { ...p, count: p.count + delta.count, free: p.free + delta.free });
  }
  return new Map([...out].filter(([, p]) => p.count !== 0 || p.free !== 0));
}

const pickFrom = <T>(rng: () => number, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;

/** Up to `size` devices: PFs with VFs and plain devices, on two vendors, two NUMA nodes and two networks. */
function randomNode(rng: () => number, size: number): Map<string, PciDevice> {
  const out: PciDevice[] = [];
  const fields = () => ({
    vendorId: pickFrom(rng, ['8086', '15b3']),
    numaNode: pickFrom(rng, [0, 1]),
    physicalNetwork: pickFrom(rng, [undefined, 'physnet1']),
  });
  while (out.length < size) {
    const address = `d${out.length}`;
    if (rng() < 0.4) {
      out.push(pf(address, fields()));
      const vfs = Math.min(size - out.length, Math.floor(rng() * 4));
      for (let v = 0; v < vfs; v++) out.push(vf(`${address}.${v}`, address, fields()));
    } else out.push(dev(address, fields()));
  }
  return byAddress(out);
}

function randomRequest(rng: () => number): PciRequestSpec {
  const entry = (): Spec => {
    const s: Spec = {};
    if (rng() < 0.5) s.deviceType = pickFrom(rng, ['type-PCI', 'type-PF', 'type-VF']);
    if (rng() < 0.3) s.vendorId = pickFrom(rng, ['8086', '15b3']);
    if (rng() < 0.3) s.physicalNetwork = 'physnet1';
    return s;
  };
  return { count: 1 + Math.floor(rng() * 2), spec: Array.from({ length: 1 + Math.floor(rng() * 2) }, entry) };
}

/** One step of a node's life: a claim by `owner`, a release by some owner, or a new report. */
function randomChanges(rng: () => number, devices: Devices, owner: string): DeviceChange[] {
  const roll = rng();
  if (roll < 0.4) {
    const picks = choose(devices, [randomRequest(rng)], rng);
    return picks ? allocate(devices, picks, owner) : [];
  }
  const owners = [...new Set([...devices.values()].flatMap((d) => d.owner ?? []))];
  if (roll < 0.7 && owners.length) {
    const who = pickFrom(rng, owners);
    return release(
      devices,
      [...devices.values()].filter((d) => d.owner === who).map((d) => d.address),
      who,
    );
  }
  // A report: some devices gone, some changed, removed ones back, a new one; VFs may name a PF 'ghost'
  // that is reported only now and then.
  const report = [...devices.values()]
    .filter(() => rng() < 0.8)
    .map((d) => (rng() < 0.15 ? { ...specOf(d), numaNode: 1 - (d.numaNode ?? 0) } : specOf(d)));
  const extra = pickFrom(rng, [
    undefined,
    dev(`n${owner}`),
    vf(`n${owner}`, rng() < 0.5 ? 'ghost' : pickFrom(rng, [...devices.keys()])),
    pf('ghost'),
  ]);
  if (extra && !report.some((d) => d.address === extra.address)) report.push(specOf(extra));
  return reconcile(devices, report);
}

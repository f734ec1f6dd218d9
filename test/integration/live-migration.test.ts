// Live migration over HTTP (docs/moves.md, rules L1 to L6): the worked examples L-ex1 to L-ex7 of the
// spec as this ledger plays them. Where Nova frees a destination only at its next audit (a non-NUMA
// guest, a refused claim, a failure, an error), we free it in the same write as the status: the tests
// say so where they differ. NUMA pinning and the page-size check of L-ex4 #7-#8 are not here yet (rule L5).
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Store } from '../../lib/store';
import { api } from '../support/api';
import { uuid } from '../support/fixtures';
import { expectPciExact } from '../support/pci';
import { liveClaim, status, used as usedOn } from '../support/live-migration';
import { freshTable } from '../support/table';

let store: Store;
beforeAll(async () => {
  store = await freshTable('live');
});

let seq = 0;
const fresh = (prefix: string) => `${prefix}-${++seq}`;

/** The spec's destination, scalars only: 8 vCPUs, 8 GiB + the 512 MB it reserves, 100 GB, no overcommit. */
const HOST = {
  vcpus: 8,
  memoryMb: 8704,
  localGb: 100,
  cpuAllocationRatio: 1,
  ramAllocationRatio: 1,
  diskAllocationRatio: 1,
  reservedHostMemoryMb: 512,
};
/** ded2 of the examples, without its NUMA request. */
const DED2 = { vcpus: 2, memoryMb: 2048, rootGb: 10 };
/** m1 of L-ex6: 2 vCPUs, 2048 MB, 20 + 5 GB. */
const M1 = { vcpus: 2, memoryMb: 2048, rootGb: 20, ephemeralGb: 5 };

async function node(prefix: string, inventory: object = HOST) {
  const id = fresh(prefix);
  expect((await api('PUT', `/nodes/${id}`, inventory)).status).toBe(201);
  return id;
}

async function instance(nodeId: string, flavor: object = DED2, extra: object = {}) {
  const id = uuid();
  const res = await api('POST', `/nodes/${nodeId}/instances`, {
    instanceUuid: id,
    flavor,
    vmState: 'active',
    taskState: null,
    ...extra,
  });
  expect(res.status).toBe(201);
  return id;
}

const used = (nodeId: string) => usedOn(store, nodeId);

const audit = (nodeId: string, body: object = {}) => api('POST', `/nodes/${nodeId}/audit`, body);

/** Every item of the table, as text: what a refused request must leave exactly as it was. */
async function everything(): Promise<string[]> {
  const out = await store.doc.send(new ScanCommand({ TableName: store.tableName, ConsistentRead: true }));
  return (out.Items ?? []).map((i) => JSON.stringify(i, Object.keys(i).sort())).sort();
}

describe('L-ex1: a live migration that succeeds', () => {
  test('the destination holds B from the claim (accepted), through every status, and completed makes B its own', async () => {
    const [dst, src] = [await node('dst'), await node('other')];
    await instance(dst); // A
    expect(await used(dst)).toBe('2560/10/2');
    const b = await instance(src);
    const m = fresh('mig');
    const claim = await liveClaim(dst, m, b, src);
    expect(claim.status).toBe(201);
    expect(claim.body.migration).toMatchObject({
      migrationId: m,
      moveType: 'live-migration',
      status: 'accepted',
      sourceNodeId: src,
      destNodeId: dst,
      oldFlavor: claim.body.migration.newFlavor,
    });
    expect(await used(dst)).toBe('4608/20/4');
    expect((await api('GET', `/nodes/${dst}`)).body.runningVms).toBe(1);
    // #3, #5: audits while in progress change nothing (the agent lists the migration).
    for (const s of ['queued', 'preparing', 'running', 'post-migrating']) {
      expect((await status(m, s)).body).toMatchObject({ status: s, applied: true });
      const report = await audit(dst, { migrations: [m] });
      expect(report.body).toMatchObject({
        drift: { memoryMbUsed: 0, localGbUsed: 0, vcpusUsed: 0 },
        releasedHolds: [],
      });
      expect([await used(dst), await used(src)]).toEqual(['4608/20/4', '2560/10/2']);
    }
    expect((await status(m, 'completed')).body).toMatchObject({ status: 'completed', applied: true });
    // #7, #9: the same totals, now as an instance; the source is empty in the same write (L11).
    expect([await used(dst), await used(src)]).toEqual(['4608/20/4', '512/0/0']);
    expect((await api('GET', `/nodes/${dst}`)).body.runningVms).toBe(2);
    expect((await api('GET', `/nodes/${dst}/instances/${b}`)).body.migrationId).toBeUndefined();
    expect((await api('GET', `/nodes/${src}/instances/${b}`)).status).toBe(404);
  });

  test('the same claim again is 200 with the same migration, and holds once', async () => {
    const [dst, src] = [await node('dst'), await node('other')];
    const b = await instance(src);
    const m = fresh('mig');
    const first = await liveClaim(dst, m, b, src);
    const again = await liveClaim(dst, m, b, src);
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.migration).toEqual(first.body.migration);
    expect(await used(dst)).toBe('2560/10/2');
  });
});

describe('L-ex2: rollback, and a duplicate drop', () => {
  test('failed releases the hold at once; a second failed and a second drop change nothing (unlike L13)', async () => {
    const [dst, src] = [await node('dst'), await node('other')];
    await instance(dst);
    const b = await instance(src);
    const m = fresh('mig');
    await liveClaim(dst, m, b, src);
    await status(m, 'running', 1);
    expect(await used(dst)).toBe('4608/20/4');
    expect((await status(m, 'failed', 2)).body).toMatchObject({ status: 'failed', applied: true });
    expect([await used(dst), await used(src)]).toEqual(['2560/10/2', '2560/10/2']);
    expect((await status(m, 'failed', 3)).body.applied).toBe(false);
    expect((await api('DELETE', `/nodes/${dst}/move-claims/${m}`)).status).toBe(204);
    expect((await api('DELETE', `/nodes/${dst}/move-claims/${m}`)).status).toBe(204);
    // #7: the audit finds nothing to repair, as Nova's does only after it.
    expect((await audit(dst, { migrations: [] })).body.drift).toEqual({
      memoryMbUsed: 0,
      localGbUsed: 0,
      vcpusUsed: 0,
    });
    expect([await used(dst), await used(src)]).toEqual(['2560/10/2', '2560/10/2']);
    expect((await api('GET', `/nodes/${src}/instances/${b}`)).body.migrationId).toBeUndefined();
  });

  test.each(['cancelled', 'failed'])('%s from accepted (an aborted queued job) releases at once', async (final) => {
    const [dst, src] = [await node('dst'), await node('other')];
    const b = await instance(src);
    const m = fresh('mig');
    await liveClaim(dst, m, b, src);
    await status(m, 'queued');
    expect((await status(m, final)).body.applied).toBe(true);
    expect([await used(dst), await used(src)]).toEqual(['512/0/0', '2560/10/2']);
  });
});

describe('L-ex3: a migration in error', () => {
  test('error releases the hold at once; Nova counts it until task_state is cleared and an audit runs', async () => {
    const [dst, src] = [await node('dst'), await node('other')];
    await instance(dst);
    const b = await instance(src);
    const m = fresh('mig');
    await liveClaim(dst, m, b, src);
    await status(m, 'running');
    expect((await status(m, 'error')).body).toMatchObject({ status: 'error', applied: true });
    expect([await used(dst), await used(src)]).toEqual(['2560/10/2', '2560/10/2']);
    // The instance stays on the source and may move again.
    expect((await liveClaim(dst, fresh('mig'), b, src)).status).toBe(201);
  });
});

describe('L-ex4: refusals and re-targeting', () => {
  const FULL = { ...HOST, vcpus: 4, memoryMb: 4608 + 4096, localGb: 20 };

  test('a full destination refuses with 409 InsufficientResources and writes nothing, not even the migration', async () => {
    const [dst, src] = [await node('dst', FULL), await node('other')];
    await instance(dst);
    await instance(dst);
    expect(await used(dst)).toBe('4608/20/4');
    const b = await instance(src);
    const m = fresh('mig');
    const before = await everything();
    const refused = await liveClaim(dst, m, b, src);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('InsufficientResources');
    expect(refused.body.message).toMatch(/^Insufficient compute resources: .*disk.*vcpu.*\.$/i);
    expect(await everything()).toEqual(before);
    // Nova's #4 counts B's flavor on this destination until re-targeted (6656/30/6): here nothing is held.
    expect(await used(dst)).toBe('4608/20/4');
    expect((await api('GET', `/migrations/${m}`)).status).toBe(404);
    // #5: the scheduler's next host takes it as a first claim.
    const third = await node('third');
    expect((await liveClaim(third, m, b, src)).status).toBe(201);
    expect(await used(third)).toBe('2560/10/2');
  });

  test('a claim of the same migration on another node re-targets it: one write frees the first and holds the second', async () => {
    const [d1, d2, src] = [await node('dst'), await node('dst'), await node('other')];
    const b = await instance(src);
    const m = fresh('mig');
    expect((await liveClaim(d1, m, b, src)).status).toBe(201);
    const moved = await liveClaim(d2, m, b, src);
    expect(moved.status).toBe(201);
    expect(moved.body.migration).toMatchObject({ destNodeId: d2, status: 'accepted' });
    expect([await used(d1), await used(d2), await used(src)]).toEqual(['512/0/0', '2560/10/2', '2560/10/2']);
    // The same re-target again is a retry (200); a late retry of the first claim is refused, nothing changes.
    expect((await liveClaim(d2, m, b, src)).status).toBe(200);
    const before = await everything();
    const late = await liveClaim(d1, m, b, src);
    expect([late.status, late.body.error]).toEqual([409, 'InstanceConflict']);
    expect(late.body.message).toContain(`has left node ${d1}`);
    expect(await everything()).toEqual(before);
    await status(m, 'completed');
    expect([await used(d1), await used(d2), await used(src)]).toEqual(['512/0/0', '2560/10/2', '512/0/0']);
  });

  test('a running live migration cannot be re-targeted: 409 InstanceConflict, nothing written', async () => {
    const [d1, d2, src] = [await node('dst'), await node('dst'), await node('other')];
    const b = await instance(src);
    const m = fresh('mig');
    await liveClaim(d1, m, b, src);
    await status(m, 'running');
    const before = await everything();
    const res = await liveClaim(d2, m, b, src);
    expect([res.status, res.body.error]).toEqual([409, 'InstanceConflict']);
    expect(res.body.message).toContain('only an accepted live migration can be re-targeted');
    expect(await everything()).toEqual(before);
  });

  test('a re-target that does not fit the new node keeps the first hold', async () => {
    const [d1, src] = [await node('dst'), await node('other')];
    const small = await node('small', { ...HOST, vcpus: 1 });
    const b = await instance(src);
    const m = fresh('mig');
    await liveClaim(d1, m, b, src);
    const before = await everything();
    const res = await liveClaim(small, m, b, src);
    expect([res.status, res.body.error]).toEqual([409, 'InsufficientResources']);
    expect(await everything()).toEqual(before);
    expect(await used(d1)).toBe('2560/10/2');
  });
});

describe('L-ex5: the source', () => {
  test('the source counts A once while it migrates out, and completed frees it at once', async () => {
    const [src, other] = [await node('src'), await node('other')];
    const a = await instance(src);
    const m = fresh('mig');
    await liveClaim(other, m, a, src);
    await status(m, 'running');
    // #3: the outbound migration adds nothing on the source.
    expect((await audit(src, { instances: [a], migrations: [m] })).body.drift).toEqual({
      memoryMbUsed: 0,
      localGbUsed: 0,
      vcpusUsed: 0,
    });
    expect(await used(src)).toBe('2560/10/2');
    expect((await api('GET', `/nodes/${src}`)).body.runningVms).toBe(1);
    await status(m, 'completed');
    expect(await used(src)).toBe('512/0/0');
    expect((await api('GET', `/nodes/${src}`)).body.runningVms).toBe(0);
  });
});

describe('L-ex6: non-NUMA live migrations are held too', () => {
  test('two coming in are held from their claims; one completes, one rolls back', async () => {
    const [dst, s1, s2] = [await node('dst'), await node('other'), await node('other')];
    const [i1, i2] = [await instance(s1, M1), await instance(s2, M1)];
    const [m1, m2] = [fresh('mig'), fresh('mig')];
    await liveClaim(dst, m1, i1, s1);
    await liveClaim(dst, m2, i2, s2);
    await status(m2, 'running');
    // #1: Nova's audit counts both (4608/50/4, no running VMs); here the claims hold them.
    expect(await used(dst)).toBe('4608/50/4');
    expect((await api('GET', `/nodes/${dst}`)).body.runningVms).toBe(0);
    await status(m1, 'completed');
    await status(m2, 'failed');
    expect(await used(dst)).toBe('2560/25/2');
    expect((await api('GET', `/nodes/${dst}`)).body.runningVms).toBe(1);
    expect([await used(s1), await used(s2)]).toEqual(['512/0/0', '2560/25/2']);
  });
});

describe('L-ex7: PCI', () => {
  const nics = (bus: string) =>
    [0, 1].map((n) => ({ address: `0000:${bus}:00.${n}`, vendorId: '15b3', productId: '101e', deviceType: 'type-VF' }));
  const PORT = [{ count: 1, spec: [{ vendorId: '15b3', deviceType: 'type-VF' }] }];
  const free = async (nodeId: string) => (await api('GET', `/nodes/${nodeId}`)).body.pciDevicePools[0]?.free ?? 0;

  test("a flavor's alias request is refused with Nova's text (its doubled dot included), nothing written", async () => {
    const [dst, src] = [await node('dst'), await node('other')];
    const b = await instance(src);
    const before = await everything();
    const res = await liveClaim(dst, fresh('mig'), b, src, {
      pciRequests: [{ count: 1, spec: [{ vendorId: '15b3' }], aliasName: 'a1' }],
    });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      error: 'InsufficientResources',
      message: 'Insufficient compute resources: Non-VIF related PCI requests are not supported for live migration..',
    });
    expect(await everything()).toEqual(before);
  });

  test('a port request the destination cannot meet is refused for want of devices', async () => {
    const [dst, src] = [await node('dst'), await node('other')];
    const b = await instance(src);
    const res = await liveClaim(dst, fresh('mig'), b, src, { pciRequests: PORT });
    expect([res.status, res.body.message]).toEqual([409, 'Insufficient compute resources: Claim pci failed.']);
    expect(await used(dst)).toBe('512/0/0');
  });

  test.each([
    ['completed', [2, 1], 'dst'],
    ['failed', [1, 2], 'src'],
  ] as const)('a port device is claimed on the destination; %s frees the side that goes', async (final, pools, on) => {
    const src = await node('src', { ...HOST, pciDevices: nics('81') });
    const dst = await node('dst', { ...HOST, pciDevices: nics('82') });
    const b = await instance(src, DED2, { pciRequests: PORT });
    const m = fresh('mig');
    const claim = await liveClaim(dst, m, b, src, { pciRequests: PORT });
    expect(claim.status).toBe(201);
    expect(claim.body.claim.pciDevices).toEqual([expect.stringMatching(/^0000:82:/)]);
    expect([await free(src), await free(dst)]).toEqual([1, 1]);
    await status(m, final);
    expect([await free(src), await free(dst)]).toEqual(pools);
    const home = on === 'dst' ? dst : src;
    const record = (await api('GET', `/nodes/${home}/instances/${b}`)).body;
    expect(record.pciDevices).toEqual([expect.stringMatching(on === 'dst' ? /^0000:82:/ : /^0000:81:/)]);
    await expectPciExact(store, src);
    await expectPciExact(store, dst);
  });
});

describe('L-ex7 and L4: a re-target with port devices', () => {
  const nics = (bus: string) =>
    [0, 1].map((n) => ({ address: `0000:${bus}:00.${n}`, vendorId: '15b3', productId: '101e', deviceType: 'type-VF' }));
  const PORT = [{ count: 1, spec: [{ vendorId: '15b3', deviceType: 'type-VF' }] }];
  const free = async (nodeId: string) => (await api('GET', `/nodes/${nodeId}`)).body.pciDevicePools[0]?.free ?? 0;

  test("the first destination's device is freed in the write that takes one on the second", async () => {
    const src = await node('src', { ...HOST, pciDevices: nics('81') });
    const d1 = await node('dst', { ...HOST, pciDevices: nics('82') });
    const d2 = await node('dst', { ...HOST, pciDevices: nics('83') });
    const b = await instance(src, DED2, { pciRequests: PORT });
    const m = fresh('mig');
    await liveClaim(d1, m, b, src, { pciRequests: PORT });
    expect([await free(d1), await free(d2)]).toEqual([1, 2]);
    const moved = await liveClaim(d2, m, b, src, { pciRequests: PORT });
    expect(moved.body.claim.pciDevices).toEqual([expect.stringMatching(/^0000:83:/)]);
    expect([await free(src), await free(d1), await free(d2)]).toEqual([1, 2, 1]);
    // (The device check counts instance records only: the node with the hold is checked after completed.)
    for (const n of [src, d1]) await expectPciExact(store, n);
    await status(m, 'completed');
    expect([await free(src), await free(d1), await free(d2)]).toEqual([2, 2, 1]);
    for (const n of [src, d1, d2]) await expectPciExact(store, n);
  });
});

describe('bad live-migration requests', () => {
  test('newFlavor is 400 ValidationError: a live guest keeps its flavor', async () => {
    const [dst, src] = [await node('dst'), await node('other')];
    const b = await instance(src);
    const res = await liveClaim(dst, fresh('mig'), b, src, { newFlavor: DED2 });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('ValidationError');
    expect(JSON.stringify(res.body.issues)).toContain('newFlavor');
  });

  test('onto its own source is 409 InvalidMove (L9)', async () => {
    const src = await node('src');
    const b = await instance(src);
    const res = await liveClaim(src, fresh('mig'), b, src);
    expect([res.status, res.body.error]).toEqual([409, 'InvalidMove']);
  });

  test.each(['pre-migrating', 'migrating', 'finished', 'confirmed', 'reverted', 'done'])(
    'a live migration has no status %s: 409 InvalidTransition',
    async (s) => {
      const [dst, src] = [await node('dst'), await node('other')];
      const m = fresh('mig');
      await liveClaim(dst, m, await instance(src), src);
      const res = await status(m, s);
      expect([res.status, res.body.error]).toEqual([409, 'InvalidTransition']);
      expect(await used(dst)).toBe('2560/10/2');
    },
  );
});

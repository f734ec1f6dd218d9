// The classifiers of lib/store/outcomes.ts: each outcome, and which one wins when several apply.
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Reasons } from '../../../lib/store/commit';
import {
  classifyClaim,
  classifyDelete,
  classifyMoveClaim,
  classifyStartOver,
  conditionFailed,
  nodeRefusal,
} from '../../../lib/store/outcomes';
import { CCF, claimRequest, nodeImage, OK } from './fixtures';

const reasons = (byName: Record<string, { Code: string; Item?: Record<string, unknown> }>): Reasons =>
  new Map(Object.entries(byName));
const owner = marshall({ pk: 'INSTANCE#i-1', sk: 'OWNER', nodeId: 'n2', fingerprint: 'abc' }) as Record<
  string,
  unknown
>;
const FULL = nodeImage({ memoryMb: 768, localGb: 6, vcpus: 64 });
const ROOMY = nodeImage({ memoryMb: 0, localGb: 0, vcpus: 0 });

describe('claim outcomes, in order of precedence', () => {
  const request = claimRequest();
  const here = { nodeId: 'n1', fingerprint: 'abc' };
  const classify = (r: Reasons) => classifyClaim(r, request, here);

  it('own-claim: the owner item is on this node with this fingerprint', () => {
    expect(
      classifyClaim(reasons({ node: OK, instance: CCF(), owner: CCF(owner) }), request, {
        nodeId: 'n2',
        fingerprint: 'abc',
      }),
    ).toEqual({
      kind: 'own-claim',
      holder: { pk: 'INSTANCE#i-1', sk: 'OWNER', nodeId: 'n2', fingerprint: 'abc' },
    });
  });

  it('instance-conflict: the owner is elsewhere, has another fingerprint, or the instance item alone exists', () => {
    expect(classify(reasons({ node: OK, instance: OK, owner: CCF(owner) }))).toMatchObject({
      kind: 'instance-conflict',
      holder: { nodeId: 'n2' },
    });
    expect(
      classifyClaim(reasons({ node: OK, instance: OK, owner: CCF(owner) }), request, {
        nodeId: 'n2',
        fingerprint: 'other',
      }).kind,
    ).toBe('instance-conflict');
    expect(classify(reasons({ node: OK, instance: CCF(), owner: OK }))).toEqual({
      kind: 'instance-conflict',
      holder: undefined,
    });
  });

  it('released: the owner is a tombstone (its condition fails only for a repeat of the released claim)', () => {
    const tombstone = marshall({
      pk: 'INSTANCE#i-1',
      sk: 'OWNER',
      released: true,
      nodeId: 'n1',
      claimedOn: 'n1',
      fingerprint: 'abc',
      releasedAt: '2026-01-01T00:00:00.000Z',
      expiresAt: 1767226500,
    }) as Record<string, unknown>;
    // A tombstone is never this request's live claim, though its node and fingerprint are this request's.
    expect(classify(reasons({ node: OK, instance: OK, owner: CCF(tombstone) }))).toMatchObject({
      kind: 'released',
      holder: { released: true, nodeId: 'n1' },
    });
    expect(classify(reasons({ node: CCF(FULL), instance: OK, owner: CCF(tombstone) })).kind).toBe('released');
  });

  it('the instance outcomes win over a device race and a node refusal', () => {
    const all = reasons({ node: CCF(FULL), instance: OK, owner: CCF(owner), 'device:0000:81:02.0': CCF() });
    expect(classify(all).kind).toBe('instance-conflict');
  });

  it('raced: a chosen device failed, which wins over the node refusal', () => {
    expect(classify(reasons({ node: CCF(FULL), instance: OK, owner: OK, 'device:0000:81:02.0': CCF() }))).toEqual({
      kind: 'raced',
    });
  });

  it("the node refused: gone without an image, refused with Nova's reasons, contended when the test passes", () => {
    expect(classify(reasons({ node: CCF(), instance: OK, owner: OK }))).toEqual({ kind: 'node-gone' });
    const refused = classify(reasons({ node: CCF(FULL), instance: OK, owner: OK }));
    expect(refused.kind).toBe('refused');
    expect(refused.kind === 'refused' && refused.why.join(' ')).toMatch(/memory/i);
    expect(classify(reasons({ node: CCF(ROOMY), instance: OK, owner: OK }))).toEqual({ kind: 'contended' });
  });

  it('unexplained when no item failed its condition', () => {
    expect(classify(reasons({ node: OK, instance: OK, owner: { Code: 'ValidationError' } }))).toEqual({
      kind: 'unexplained',
    });
  });
});

describe('move claim outcomes', () => {
  const sized = claimRequest();
  it.each(['hold:new', 'migration', 'instance', 'device:0000:81:02.0'])(
    'raced when %s failed, even with the node refusing',
    (name) => {
      expect(classifyMoveClaim(reasons({ node: CCF(FULL), [name]: CCF() }), sized)).toEqual({ kind: 'raced' });
    },
  );
  it('the node refusal otherwise', () => {
    expect(classifyMoveClaim(reasons({ node: CCF(), migration: OK }), sized)).toEqual({ kind: 'node-gone' });
    expect(classifyMoveClaim(reasons({ node: CCF(FULL), migration: OK }), sized).kind).toBe('refused');
    expect(classifyMoveClaim(reasons({ node: OK, migration: OK }), sized)).toEqual({ kind: 'unexplained' });
  });
});

describe('writes built from a read', () => {
  it('changed when any item failed, unexplained when none did', () => {
    expect(classifyStartOver(reasons({ migration: OK, 'node:n1': CCF() }))).toEqual({ kind: 'changed' });
    expect(classifyStartOver(reasons({ migration: OK, 'node:n1': { Code: 'TransactionConflict' } }))).toEqual({
      kind: 'unexplained',
    });
  });
});

describe('single-item writes', () => {
  it('delete if unused: in use with the image, else gone, unless this request deleted it', () => {
    const image = marshall({ pk: 'NODE#n1', trackedCount: 3 }) as Record<string, unknown>;
    expect(classifyDelete(image, false)).toEqual({ kind: 'in-use', image: { pk: 'NODE#n1', trackedCount: 3 } });
    expect(classifyDelete(image, true)).toEqual({ kind: 'in-use', image: { pk: 'NODE#n1', trackedCount: 3 } });
    expect(classifyDelete(undefined, false)).toEqual({ kind: 'gone' });
    expect(classifyDelete(undefined, true)).toEqual({ kind: 'committed' });
  });
  it('a failed condition is told from other errors by its name', () => {
    expect(conditionFailed(Object.assign(new Error('x'), { name: 'ConditionalCheckFailedException' }))).toBe(true);
    expect(conditionFailed(Object.assign(new Error('x'), { name: 'ThrottlingException' }))).toBe(false);
    expect(conditionFailed(undefined)).toBe(false);
  });
  it('the node refusal reads a document-client image as well as a raw one', () => {
    expect(
      nodeRefusal(
        {
          Code: 'ConditionalCheckFailed',
          Item: {
            nodeId: 'n1',
            vcpus: 4,
            memoryMb: 512,
            localGb: 6,
            cpuAllocationRatio: 16,
            ramAllocationRatio: 1.5,
            diskAllocationRatio: 1,
            reservedHostMemoryMb: 0,
            reservedHostDiskMb: 0,
            reservedHostCpus: 0,
            memoryMbUsed: 0,
            localGbUsed: 0,
            vcpusUsed: 0,
          },
        },
        claimRequest(),
      ),
    ).toEqual({ kind: 'contended' });
  });
});

// Which claims a release's tombstone refuses (rule O5): the released claim's own request, on the node it
// was made on, inside the window; the condition the claim sends and the message of the refusal.
import { ownerFreeCondition, releasedConflict, repeatsRelease } from '../../../lib/store/tombstone';

const at = Date.parse('2026-01-01T00:00:00.000Z');
const tombstone = {
  released: true,
  nodeId: 'n2',
  claimedOn: 'n1',
  fingerprint: 'abc',
  releasedAt: new Date(at).toISOString(),
  expiresAt: at / 1000 + 900,
};

describe('a release tombstone', () => {
  it('refuses the same request on the node of the claim until the window ends', () => {
    expect(repeatsRelease(tombstone, { nodeId: 'n1', fingerprint: 'abc' }, at + 900_000)).toBe(true);
    expect(repeatsRelease(tombstone, { nodeId: 'n1', fingerprint: 'abc' }, at + 901_000)).toBe(false);
  });
  it('admits another request, another node (the one it was released on included) and a live owner', () => {
    expect(repeatsRelease(tombstone, { nodeId: 'n1', fingerprint: 'other' }, at)).toBe(false);
    expect(repeatsRelease(tombstone, { nodeId: 'n2', fingerprint: 'abc' }, at)).toBe(false);
    expect(repeatsRelease({ ...tombstone, released: undefined }, { nodeId: 'n1', fingerprint: 'abc' }, at)).toBe(false);
  });
  it("is what the claim's owner condition tests, with the time in epoch seconds", () => {
    expect(ownerFreeCondition('n1', 'abc', at + 1_500)).toEqual({
      ConditionExpression:
        'attribute_not_exists(pk) OR (released = :t AND (claimedOn <> :node OR fingerprint <> :fp OR expiresAt < :now))',
      ExpressionAttributeValues: { ':t': true, ':node': 'n1', ':fp': 'abc', ':now': at / 1000 + 1 },
    });
  });
  it('explains the refusal: where and when it was released, and when the claim may come again', () => {
    expect(releasedConflict('i-1', tombstone).message).toBe(
      'Instance i-1 was released on node n2 at 2026-01-01T00:00:00.000Z; this request repeats the released ' +
        'claim. A new claim of the instance (unshelve, rebuild) differs in its state or flavor, or may be sent ' +
        'after 2026-01-01T00:15:00.000Z (15 minutes after the release).',
    );
  });
});

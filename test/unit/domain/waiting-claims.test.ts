// Claims committed together on a hot node (rule CU5): the batch's bounds on the node item hold exactly when each
// claim of the batch would pass its own guards committed alone, one after another; and the node takes waiting
// claims first come first served.
import fc from 'fast-check';
import {
  batchBounds,
  fitsOn,
  RESOURCES,
  takeInOrder,
  type BatchBound,
  type NodeFigures,
  type ResourceGuard,
  type WaitingClaim,
} from '../../../lib/domain';

const guard: fc.Arbitrary<ResourceGuard> = fc.oneof(
  fc.integer({ min: 0, max: 12 }).map((atLeast) => ({ kind: 'headroom' as const, atLeast })),
  fc.integer({ min: -4, max: 24 }).map((value) => ({ kind: 'usedAtMost' as const, value })),
  fc.constant({ kind: 'none' as const }),
);
const amount = fc.integer({ min: 0, max: 6 });
const claim: fc.Arbitrary<WaitingClaim> = fc.record({
  amounts: fc.record({ memoryMb: amount, diskGb: amount, vcpus: amount }),
  guards: fc.record({ memoryMb: guard, diskGb: guard, vcpus: guard }),
});
const figure = fc.integer({ min: -2, max: 20 });
const figures: fc.Arbitrary<NodeFigures> = fc.record({
  used: fc.record({ memoryMb: figure, diskGb: figure, vcpus: figure }),
  headroom: fc.record({ memoryMb: figure, diskGb: figure, vcpus: figure }),
});

/** Commits the claims one by one as the node item would: each must pass its guards, then takes its amounts. */
function eachPassesInTurn(node: NodeFigures, batch: readonly WaitingClaim[]): boolean {
  const now: NodeFigures = { used: { ...node.used }, headroom: { ...node.headroom } };
  for (const c of batch) {
    if (!fitsOn(now, c)) return false;
    for (const r of RESOURCES) {
      now.used[r] += c.amounts[r];
      now.headroom[r] -= c.amounts[r];
    }
  }
  return true;
}

const boundsHold = (node: NodeFigures, bounds: Record<(typeof RESOURCES)[number], BatchBound>) =>
  RESOURCES.every((r) => {
    const { headroomAtLeast, usedAtMost } = bounds[r];
    return (
      (headroomAtLeast === undefined || node.headroom[r] >= headroomAtLeast) &&
      (usedAtMost === undefined || node.used[r] <= usedAtMost)
    );
  });

test('the bounds of a batch hold exactly when its claims, committed one after another, each pass their guards', () => {
  fc.assert(
    fc.property(figures, fc.array(claim, { maxLength: 8 }), (node, batch) => {
      expect(boundsHold(node, batchBounds(batch))).toBe(eachPassesInTurn(node, batch));
    }),
    { numRuns: 2000 },
  );
});

test('the node takes, in order, each waiting claim that passes after those taken before it, and at most max', () => {
  fc.assert(
    fc.property(figures, fc.array(claim, { maxLength: 12 }), fc.integer({ min: 0, max: 12 }), (node, waiting, max) => {
      const taken = takeInOrder(node, waiting, max);
      expect(taken.length).toBeLessThanOrEqual(max);
      expect(eachPassesInTurn(node, taken)).toBe(true);
      // Taken in the order they waited.
      const at = taken.map((t) => waiting.indexOf(t));
      expect(at).toEqual([...at].sort((a, b) => a - b));
      // One passed over does not fit after those taken before it (unless the batch was full by then).
      for (const [i, w] of waiting.entries()) {
        if (taken.includes(w)) continue;
        const before = taken.filter((t) => waiting.indexOf(t) < i);
        if (before.length < max) expect(eachPassesInTurn(node, [...before, w])).toBe(false);
      }
    }),
    { numRuns: 2000 },
  );
});

test('a claim that does not fit is passed over, not the ones behind it', () => {
  const headroom = (atLeast: number): ResourceGuard => ({ kind: 'headroom', atLeast });
  const vcpus = (n: number): WaitingClaim => ({
    amounts: { memoryMb: 0, diskGb: 0, vcpus: n },
    guards: { memoryMb: { kind: 'none' }, diskGb: { kind: 'none' }, vcpus: headroom(n) },
  });
  const node = { used: { memoryMb: 0, diskGb: 0, vcpus: 0 }, headroom: { memoryMb: 9, diskGb: 9, vcpus: 4 } };
  const [a, big, b] = [vcpus(2), vcpus(3), vcpus(2)];
  expect(takeInOrder(node, [a, big, b], 10)).toEqual([a, b]);
  expect(batchBounds([a, b]).vcpus).toEqual({ headroomAtLeast: 4 });
});

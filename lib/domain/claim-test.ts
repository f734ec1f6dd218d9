import { RESOURCES, type Amounts, type Resource } from './resources';

/**
 * The limits one claim is tested against. A number is the limit for that resource; null means the
 * resource is not tested (rule C2: a None limit skips the test).
 */
export type ClaimLimits = Record<Resource, number | null>;

/** Limits a request may carry: a number replaces the node's limit, null switches the test off, absent keeps the node's. */
export type LimitOverrides = Partial<Record<Resource, number | null>>;

export function effectiveLimits(node: Amounts, overrides: LimitOverrides = {}): ClaimLimits {
  const pick = (r: Resource) => (overrides[r] === undefined ? node[r] : overrides[r]);
  return { memoryMb: pick('memoryMb'), diskGb: pick('diskGb'), vcpus: pick('vcpus') };
}

const WORDING: Record<Resource, { name: string; unit: string }> = {
  memoryMb: { name: 'memory', unit: 'MB' },
  diskGb: { name: 'disk', unit: 'GB' },
  vcpus: { name: 'vcpu', unit: 'VCPU' },
};

/**
 * Every amount the ledger holds is a multiple of 1/1024 (disk in GB gains swap in MB / 1024; everything
 * else is whole), so sums of amounts are exact in binary and in DynamoDB's decimals alike. A limit can be
 * any number (localGb x 1.1); `onGrid` rounds it down to that grid, which decides exactly the same claims
 * because requested + used is always on the grid. The store keeps headroom against the rounded limit, so
 * its conditions and this test agree to the last bit.
 */
export const GRID = 1024;

export function onGrid(limit: number): number {
  return Math.floor(limit * GRID) / GRID;
}

/**
 * Nova's scalar test (rule C3): free = limit - used, with what the host reserves included in used, and the
 * claim fails iff requested > free, so the claim that takes the last unit passes. Decided as
 * requested + used > limit, which is exact here (see GRID) where limit - used may round.
 */
export function exceeds(limit: number | null, used: number, requested: number): boolean {
  return limit !== null && requested + used > limit;
}

/** Python's '%.2f': like toFixed, but an exact tie rounds to the even digit (0.125 prints 0.12). */
export function formatFixed2(x: number): string {
  const magnitude = Math.abs(x);
  const hundredths = magnitude * 100;
  // A binary fraction is a tie at two decimals only when it is an odd number of eighths.
  const tie = Number.isInteger(magnitude * 8) && !Number.isInteger(magnitude * 4);
  if (!tie) return x.toFixed(2);
  const down = Math.floor(hundredths);
  const even = down % 2 === 0 ? down : down + 1;
  return `${x < 0 ? '-' : ''}${(even / 100).toFixed(2)}`;
}

/**
 * The claim test against every limit: the reasons it does not fit, in Nova's order (memory, disk, vcpu)
 * and wording; an empty list means it fits. An untested resource (null limit) never fails.
 */
export function claimReasons(limits: ClaimLimits, used: Amounts, requested: Amounts): string[] {
  const reasons: string[] = [];
  for (const r of RESOURCES) {
    const limit = limits[r];
    if (limit === null || !exceeds(limit, used[r], requested[r])) continue;
    const { name, unit } = WORDING[r];
    // Python's '%d' truncates toward zero; a fractional disk request (swap) is printed that way too.
    reasons.push(
      `Free ${name} ${formatFixed2(limit - used[r])} ${unit} < requested ${Math.trunc(requested[r])} ${unit}`,
    );
  }
  return reasons;
}

/** The refusal message Nova raises with ComputeResourcesUnavailable (rule C7). */
export function refusalMessage(reasons: string[]): string {
  return `Insufficient compute resources: ${reasons.join('; ')}.`;
}

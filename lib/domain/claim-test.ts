import { RESOURCES, type Amounts, type Resource } from './resources';

/**
 * The limits one claim is tested against. A number is the limit for that resource; null means the
 * resource is not tested (spec C2: a None limit skips the test).
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

/** What is free under each limit: free = limit - used, where used includes what the host reserves (spec C3). */
export type Free = Record<Resource, number | null>;

export function freeUnder(limits: ClaimLimits, used: Amounts): Free {
  const f = (r: Resource) => {
    const limit = limits[r];
    return limit === null ? null : limit - used[r];
  };
  return { memoryMb: f('memoryMb'), diskGb: f('diskGb'), vcpus: f('vcpus') };
}

/**
 * Nova's scalar test (spec C3) to the letter: a resource fails iff requested > free, so a claim that
 * takes the last unit passes; an untested resource (null) never fails. Returns the reasons in Nova's
 * order and wording; an empty list means the claim fits.
 */
export function claimReasons(free: Free, requested: Amounts): string[] {
  const reasons: string[] = [];
  for (const r of RESOURCES) {
    const f = free[r];
    if (f === null || !(requested[r] > f)) continue;
    const { name, unit } = WORDING[r];
    // Python's '%d' truncates toward zero; a fractional disk request (swap) is printed that way too.
    reasons.push(`Free ${name} ${f.toFixed(2)} ${unit} < requested ${Math.trunc(requested[r])} ${unit}`);
  }
  return reasons;
}

/** The refusal message Nova raises with ComputeResourcesUnavailable (spec C7). */
export function refusalMessage(reasons: string[]): string {
  return `Insufficient compute resources: ${reasons.join('; ')}.`;
}

import { createHash } from 'node:crypto';
import { claimReasons, effectiveLimits, onGrid, type LimitOverrides } from './claim-test';
import { nodeLimits, type Inventory } from './inventory';
import { RESOURCES, type Amounts, type Resource } from './resources';
import type { InstanceState } from './stats';
import { instanceUsage, type Flavor, type Overhead } from './usage';
import type { NumaCellChange } from './numa-usage';
import type { NumaTopologyInput } from './numa-request';
import type { FittedTopology, NumaLimits } from './numa-types';

export interface PciRequest {
  count: number;
  spec: Partial<Record<string, string>>[];
  aliasName?: string;
}

/** The NUMA parts of a claim or move claim; all optional, so a request without them claims as before. */
export interface NumaAsk {
  flavor: Flavor & { extraSpecs?: Record<string, string> };
  image?: { properties: Record<string, string> };
  numaTopology?: NumaTopologyInput;
  /** `numaTopology`: other ratios for shared cells, or null to switch their test off (rule F4e). */
  limits: LimitOverrides & { numaTopology?: NumaLimits | null };
}

export interface ClaimRequest extends InstanceState, NumaAsk {
  instanceUuid: string;
  pciRequests: PciRequest[];
  volumeBacked: boolean;
  overhead: Overhead;
  /** The server group the instance joins (rule G8). */
  serverGroup?: string;
}

/** One host cell's share of a claim, kept with the record so that the release gives back exactly it (rule NS4). */
export type NumaTaken = NumaCellChange;

/** What the ledger keeps for each claimed instance. */
export interface InstanceRecord extends InstanceState {
  nodeId: string;
  instanceUuid: string;
  memoryMb: number;
  diskGb: number;
  vcpus: number;
  pciDevices: string[];
  flavor: Flavor;
  volumeBacked: boolean;
  overhead: Overhead;
  /** Identifies the request that made the claim, so that a retry of it is told apart from a different claim. */
  fingerprint: string;
  /** Bumped on every change of the record: a release or state change is conditioned on the version it read. */
  version: number;
  /** The move in progress, if any: it must end before the instance can be released. */
  migrationId?: string;
  /** The server group it is a member of: its release leaves the group (rule G9). */
  serverGroup?: string;
  /**
   * The fitted NUMA topology; null when the claim asked for one on a node without a topology (rule H5),
   * absent when it asked for none.
   */
  numaTopology?: FittedTopology | null;
  /** What the fit took from each host cell (not shown to clients). */
  numaTaken?: NumaTaken[];
}

/**
 * How the store must guard one resource, given that conditions cannot do arithmetic:
 * - 'headroom': the node's own limit applies; the node keeps headroom = limit - used, which must be >= `atLeast`.
 * - 'usedAtMost': the request brought its own limit L, so used must be <= L - requested (L on the grid, see GRID).
 * - 'none': the request switched the test off for this resource.
 */
export type ResourceGuard =
  { kind: 'headroom'; atLeast: number } | { kind: 'usedAtMost'; value: number } | { kind: 'none' };

export interface ClaimPlan {
  record: Omit<InstanceRecord, 'nodeId'>;
  amounts: Amounts;
  guards: Record<Resource, ResourceGuard>;
}

/** JSON with object keys in order, so equal values give equal text. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Identifies a request by its content: the same fields and values, in any key order, give the same print. */
export function fingerprint(request: unknown): string {
  return createHash('sha256').update(canonical(request)).digest('base64url').slice(0, 32);
}

function guard(limit: number | null | undefined, requested: number): ResourceGuard {
  if (limit === undefined) return { kind: 'headroom', atLeast: requested };
  if (limit === null) return { kind: 'none' };
  return { kind: 'usedAtMost', value: onGrid(limit) - requested };
}

/** How the store guards each resource for a claim of `amounts` under the request's limits. */
export function claimGuards(amounts: Amounts, limits: LimitOverrides): Record<Resource, ResourceGuard> {
  return {
    memoryMb: guard(limits.memoryMb, amounts.memoryMb),
    diskGb: guard(limits.diskGb, amounts.diskGb),
    vcpus: guard(limits.vcpus, amounts.vcpus),
  };
}

/** Everything the store needs to make the claim in one conditional write, decided without reading the node. */
export function planClaim(request: ClaimRequest): ClaimPlan {
  const amounts = instanceUsage(request.flavor, request.overhead, request.volumeBacked);
  const { instanceUuid, flavor, volumeBacked, overhead, vmState, taskState, osType, projectId, serverGroup } = request;
  return {
    record: {
      instanceUuid,
      ...amounts,
      pciDevices: [],
      vmState,
      taskState,
      osType,
      projectId,
      flavor,
      volumeBacked,
      overhead,
      fingerprint: fingerprint(request),
      version: 1,
      ...(serverGroup === undefined ? {} : { serverGroup }),
    },
    amounts,
    guards: claimGuards(amounts, request.limits),
  };
}

/** Nova's claim test against a node: the reasons the request does not fit, or an empty list. */
export type Sized = Pick<ClaimRequest, 'flavor' | 'overhead' | 'volumeBacked' | 'limits' | 'pciRequests'>;

export function refusalReasons(inventory: Inventory, used: Amounts, request: Sized, pciFits = true): string[] {
  const requested = instanceUsage(request.flavor, request.overhead, request.volumeBacked);
  const reasons = claimReasons(effectiveLimits(nodeLimits(inventory), request.limits), used, requested);
  // The device test comes after the scalar ones (rules C6, C7).
  if (!pciFits) reasons.push('Claim pci failed');
  return reasons;
}

export function recordAmounts(record: Pick<InstanceRecord, Resource>): Amounts {
  const out = {} as Amounts;
  for (const r of RESOURCES) out[r] = record[r];
  return out;
}

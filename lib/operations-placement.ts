// The operations of placement and server groups (docs/placement.md), kept apart from lib/operations.ts, which
// spreads them into its table. Types only from there, so this file imports nothing at run time either. The
// placement handlers import this file rather than operations.ts: the whole table would add 5 KB to their bundles.
import type { LambdaSettings, Operation } from './operations';

/**
 * The fleet summary's Lambdas (rule G12), started by the table's stream and by a schedule rather than a route or
 * the audit round: infra/fleet-summary.ts builds them, test/integration/permissions.test.ts proves their access.
 */
export const FLEET_SUMMARY_FUNCTIONS = {
  consumer: {
    entry: 'fleet-summary',
    access: { table: [], summary: ['PutItem', 'DeleteItem'] },
    lambda: { memoryMb: 512, timeoutSeconds: 30 },
  },
  // Seeding 100,000 entries is ~100,000 PutItems, 16 at a time: about a minute. One at a time, no retry: the next
  // period's run is the retry.
  repair: {
    entry: 'fleet-summary-repair',
    access: { table: ['BatchGetItem'], nodeIndex: true, summary: ['Query', 'PutItem', 'DeleteItem'] },
    lambda: { memoryMb: 1024, timeoutSeconds: 600, reservedConcurrency: 1, retryAttempts: 0 },
  },
} as const satisfies Record<string, Pick<Operation, 'entry' | 'access' | 'lambda'>>;

// BEHIND_API of operations.ts, which cannot be read here: that file imports this one before it defines it.
const api: LambdaSettings = { memoryMb: 1024, timeoutSeconds: 10 };
/** What a claim may be refused with, whether its node was named or chosen. */
export const CLAIM_REFUSALS = [
  'InsufficientResources',
  'InstanceConflict',
  'GroupNotFound',
  'GroupPolicyViolation',
] as const;
// A placement claims like POST /nodes/{nodeId}/instances (and reads the fleet view and its own earlier answer).
const PLACE = {
  table: ['GetItem', 'BatchGetItem', 'Query', 'PutItem', 'UpdateItem'],
  nodeIndex: true,
  summary: ['GetItem', 'Query'],
} as const;
const FLEET = { table: ['BatchGetItem'], nodeIndex: true, summary: ['GetItem', 'Query'] } as const;

export const PLACEMENT_OPERATIONS = {
  getCandidates: {
    name: 'GetCandidates',
    trigger: { kind: 'http', method: 'GET', path: '/candidates' },
    entry: 'get-candidates',
    summary: 'Where a guest of these sizes fits now, best first',
    errors: ['ValidationError'],
    access: FLEET,
    lambda: api,
  },
  postCandidates: {
    name: 'PostCandidates',
    trigger: { kind: 'http', method: 'POST', path: '/candidates' },
    entry: 'post-candidates',
    summary: 'Where a claim body fits now, best first',
    errors: ['ValidationError', 'GroupNotFound'],
    access: { ...FLEET, table: [...FLEET.table, 'Query'] },
    lambda: api,
  },
  createPlacement: {
    name: 'CreatePlacement',
    trigger: { kind: 'http', method: 'POST', path: '/placements' },
    entry: 'create-placement',
    summary: 'Claim on the best node; a gang all or none',
    errors: ['ValidationError', 'NoValidHost', 'InstanceConflict', 'GroupNotFound', 'GroupPolicyViolation'],
    access: PLACE,
    lambda: api,
  },
  putServerGroup: {
    name: 'PutServerGroup',
    trigger: { kind: 'http', method: 'PUT', path: '/server-groups/{groupId}' },
    entry: 'put-server-group',
    summary: 'Create a server group or set its policy',
    errors: ['ValidationError', 'GroupInUse'],
    access: { table: ['GetItem', 'UpdateItem'] },
    lambda: api,
  },
  getServerGroup: {
    name: 'GetServerGroup',
    trigger: { kind: 'http', method: 'GET', path: '/server-groups/{groupId}' },
    entry: 'get-server-group',
    summary: 'A server group and its members',
    errors: ['ValidationError', 'GroupNotFound'],
    access: { table: ['Query'] },
    lambda: api,
  },
  deleteServerGroup: {
    name: 'DeleteServerGroup',
    trigger: { kind: 'http', method: 'DELETE', path: '/server-groups/{groupId}' },
    entry: 'delete-server-group',
    summary: 'Delete a server group without members',
    errors: ['ValidationError', 'GroupInUse', 'GroupNotFound'],
    access: { table: ['DeleteItem'] },
    lambda: api,
  },
} as const satisfies Record<string, Operation>;

export type PlacementOperationId = keyof typeof PLACEMENT_OPERATIONS;

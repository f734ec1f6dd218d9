// Every operation of the service, as data: how it is reached (an HTTP route, the status queue, the schedule),
// the Lambda entry that serves it and that Lambda's settings, its name in logs and metrics, its OpenAPI id and
// summary, the error codes it may answer, and the DynamoDB access it is granted. functions/, infra/, the OpenAPI
// generator, the local runner and scripts/build.ts all read it; it imports only types, the audit round's and status
// queue's figures (lib/audit-round.ts, lib/status-retry.ts: they import nothing) and operations-placement.ts.
import { AUDIT_ROUND } from './audit-round';
import type { ErrorCode } from './errors';
import { CLAIM_REFUSALS, PLACEMENT_OPERATIONS } from './operations-placement';
import { CONSUMER_TIMEOUT_SECONDS } from './status-retry';

/**
 * A DynamoDB IAM action an entry may use. Transactions have no action of their own: each item of a TransactWriteItems
 * is authorized as PutItem, UpdateItem, DeleteItem or ConditionCheckItem, and each item of a TransactGetItems as GetItem.
 */
export type TableAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'BatchWriteItem'
  | 'ConditionCheckItem';

/** What an entry's Lambda may touch: the CDK stack grants exactly this, permissions.test.ts checks what it sends. */
export interface Access {
  /** Actions on the table's own items. */
  table: readonly TableAction[];
  /** Queries the keys-only node index (NODE_INDEX in lib/store/table.ts). */
  nodeIndex?: true;
  /** Actions on the fleet summary's items only (keys FLEET#*, rule G12). */
  summary?: readonly ('GetItem' | 'Query' | 'PutItem' | 'DeleteItem')[];
  /** Receives and deletes messages of the migration status queue (granted with its event source). */
  queue?: 'consume';
}

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** What starts the operation's Lambda. */
export type Trigger =
  | { kind: 'http'; method: HttpMethod; path: string }
  /** The FIFO status queue; `batchSize` messages at most per invocation. */
  | { kind: 'sqs'; batchSize: number }
  /** An EventBridge rule every `everyMinutes` starts the audit round, whose first step this is; no redelivery. */
  | { kind: 'schedule'; everyMinutes: number; retryAttempts: number }
  /** A slice of the audit round: the round's state machine calls it, `concurrency` slices at once. */
  | { kind: 'round'; concurrency: number };

export interface LambdaSettings {
  memoryMb: number;
  timeoutSeconds: number;
  reservedConcurrency?: number;
  /** Lambda's own retries of an asynchronous invocation (the schedule's). */
  retryAttempts?: number;
  maxEventAgeSeconds?: number;
}

export interface Operation {
  /** Its name in logs (the `operation` key) and the `operation` dimension of its metrics. */
  name: string;
  trigger: Trigger;
  /** File under functions/ (without .ts) exporting `handler`. */
  entry: string;
  summary: string;
  description?: string;
  /** Codes it may answer besides Unavailable, which every operation may (the store may stay busy). */
  errors: readonly ErrorCode[];
  access: Access;
  lambda: LambdaSettings;
}

/** API Gateway waits 30 s for an integration; a request's retries end before the deadline (lib/store/retry.ts). */
export const HTTP_TIMEOUT_SECONDS = 10;
export { CONSUMER_TIMEOUT_SECONDS } from './status-retry';
// Memory buys CPU: 1 GB keeps cold starts and the transaction's JSON work short, at a cost that is small
// next to the DynamoDB writes of a claim.
const MEMORY_MB = 1024;
const BEHIND_API: LambdaSettings = { memoryMb: MEMORY_MB, timeoutSeconds: HTTP_TIMEOUT_SECONDS };

// Device items are written (Put, or Delete when gone from the inventory) in the node's transactions after one Query
// of its partition. A stale status change reads the move's items (TransactGetItems, i.e. GetItem); a release of a
// moving instance ends its move; dropping a move hold reads its server-group items in one BatchGetItem (rule G9).
// A claim that meets another on its node puts a waiting item, reads the partition and deletes it (rule CU5).
const CLAIM: Access = { table: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'] };
const CHANGE: Access = { table: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'] };

const http = (method: HttpMethod, path: string) => ({ kind: 'http', method, path }) as const;

/** Keyed by OpenAPI operation id; HTTP operations in the order the document lists them. */
export const OPERATIONS = {
  listNodes: {
    name: 'ListNodes',
    trigger: http('GET', '/nodes'),
    entry: 'list-nodes',
    summary: 'A page of nodes, in nodeId order',
    errors: ['ValidationError'],
    // One Query per listed node: its item, cells and records, for the stats (rule S6).
    access: { table: ['Query'], nodeIndex: true },
    lambda: BEHIND_API,
  },
  putNode: {
    name: 'PutNode',
    trigger: http('PUT', '/nodes/{nodeId}'),
    entry: 'put-node',
    summary: 'Register a node or replace its inventory',
    description:
      'Tracked usage is kept: if the inventory shrinks below it, free values go negative and claims are refused until usage falls.',
    errors: ['ValidationError'],
    access: { table: ['Query', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'] },
    lambda: BEHIND_API,
  },
  getNode: {
    name: 'GetNode',
    trigger: http('GET', '/nodes/{nodeId}'),
    entry: 'get-node',
    summary: 'A node',
    errors: ['ValidationError', 'NodeNotFound'],
    access: { table: ['Query'] },
    lambda: BEHIND_API,
  },
  deleteNode: {
    name: 'DeleteNode',
    trigger: http('DELETE', '/nodes/{nodeId}'),
    entry: 'delete-node',
    summary: 'Delete a node that tracks nothing',
    errors: ['ValidationError', 'NodeNotFound', 'NodeInUse'],
    access: { table: ['DeleteItem', 'Query', 'ConditionCheckItem'] },
    lambda: BEHIND_API,
  },
  claimInstance: {
    name: 'ClaimInstance',
    trigger: http('POST', '/nodes/{nodeId}/instances'),
    entry: 'claim-instance',
    summary: 'Claim resources for an instance',
    description:
      "Refused with Nova's message when it does not fit. The same request again answers 200 and changes nothing.",
    errors: ['ValidationError', 'NodeNotFound', ...CLAIM_REFUSALS],
    access: CLAIM,
    lambda: BEHIND_API,
  },
  listInstances: {
    name: 'ListInstances',
    trigger: http('GET', '/nodes/{nodeId}/instances'),
    entry: 'list-instances',
    summary: "The node's instance records",
    errors: ['ValidationError', 'NodeNotFound'],
    access: { table: ['Query'] },
    lambda: BEHIND_API,
  },
  getInstance: {
    name: 'GetInstance',
    trigger: http('GET', '/nodes/{nodeId}/instances/{instanceUuid}'),
    entry: 'get-instance',
    summary: 'An instance record',
    errors: ['ValidationError', 'InstanceNotFound'],
    access: { table: ['GetItem'] },
    lambda: BEHIND_API,
  },
  updateInstance: {
    name: 'UpdateInstance',
    trigger: http('PATCH', '/nodes/{nodeId}/instances/{instanceUuid}'),
    entry: 'update-instance',
    summary: "The instance changed state (Nova's update_usage)",
    description:
      'vmState deleted, or shelved_offloaded unless it is being unshelved (taskState spawning or unshelving), releases what the instance holds.',
    errors: ['ValidationError', 'InstanceNotFound'],
    access: CHANGE,
    lambda: BEHIND_API,
  },
  releaseInstance: {
    name: 'ReleaseInstance',
    trigger: http('DELETE', '/nodes/{nodeId}/instances/{instanceUuid}'),
    entry: 'release-instance',
    summary: 'Release everything the instance holds',
    description: 'An instance that is moving has its move cancelled first.',
    errors: ['ValidationError'],
    access: CHANGE,
    lambda: BEHIND_API,
  },
  claimMove: {
    name: 'ClaimMove',
    trigger: http('POST', '/nodes/{nodeId}/move-claims'),
    entry: 'claim-move',
    summary: 'Claim the destination of a resize, migration, evacuation or live migration',
    errors: [
      'ValidationError',
      'NodeNotFound',
      'InstanceNotFound',
      'InsufficientResources',
      'InstanceConflict',
      'InvalidMove',
      'GroupPolicyViolation',
    ],
    access: { table: ['GetItem', 'BatchGetItem', 'Query', 'PutItem', 'UpdateItem'] },
    lambda: BEHIND_API,
  },
  dropMoveClaim: {
    name: 'DropMoveClaim',
    trigger: http('DELETE', '/nodes/{nodeId}/move-claims/{migrationId}'),
    entry: 'drop-move-claim',
    summary: "Drop one hold of a move (Nova's drop_move_claim)",
    errors: ['ValidationError'],
    access: { table: [...CHANGE.table, 'BatchGetItem'] },
    lambda: BEHIND_API,
  },
  getMigration: {
    name: 'GetMigration',
    trigger: http('GET', '/migrations/{migrationId}'),
    entry: 'get-migration',
    summary: 'A migration',
    errors: ['ValidationError', 'MigrationNotFound'],
    access: { table: ['GetItem'] },
    lambda: BEHIND_API,
  },
  updateMigrationStatus: {
    name: 'UpdateMigrationStatus',
    trigger: http('POST', '/migrations/{migrationId}/status'),
    entry: 'update-migration-status',
    summary: 'A migration status update (also carried by the SQS queue)',
    description:
      'A status that goes backwards, repeats, follows a final one or has a stale sequence answers 200 with applied false.',
    errors: ['ValidationError', 'MigrationNotFound', 'InvalidTransition'],
    access: CHANGE,
    lambda: BEHIND_API,
  },
  auditNode: {
    name: 'AuditNode',
    trigger: http('POST', '/nodes/{nodeId}/audit'),
    entry: 'audit-node',
    summary: "Recount the node and repair drift (Nova's update_available_resource)",
    errors: ['ValidationError', 'NodeNotFound'],
    access: { table: ['Query', 'PutItem', 'UpdateItem', 'DeleteItem'] },
    lambda: BEHIND_API,
  },
  consumeStatusUpdates: {
    name: 'MigrationStatusQueue',
    // The most a FIFO event source takes; a batch holds several instances' groups.
    trigger: { kind: 'sqs', batchSize: 10 },
    entry: 'migration-status-queue',
    summary: 'Apply the migration status updates of the FIFO queue',
    errors: ['ValidationError', 'MigrationNotFound', 'InvalidTransition'],
    access: { ...CHANGE, queue: 'consume' },
    lambda: { memoryMb: MEMORY_MB, timeoutSeconds: CONSUMER_TIMEOUT_SECONDS },
  },
  auditAll: {
    name: 'AuditAll',
    // A failed round is simply the next round: no redelivery that could overlap it.
    trigger: { kind: 'schedule', everyMinutes: AUDIT_ROUND.periodMinutes, retryAttempts: 0 },
    entry: 'audit-all',
    summary: 'Plan an audit round: the node index cut into slices',
    errors: [],
    access: { table: [], nodeIndex: true },
    lambda: { memoryMb: MEMORY_MB, timeoutSeconds: AUDIT_ROUND.planTimeoutSeconds },
  },
  auditSlice: {
    name: 'AuditSlice',
    trigger: { kind: 'round', concurrency: AUDIT_ROUND.concurrency },
    entry: 'audit-slice',
    summary: "Audit one slice of the round's nodes",
    errors: [],
    access: { table: ['Query', 'UpdateItem'], nodeIndex: true },
    lambda: { memoryMb: MEMORY_MB, timeoutSeconds: AUDIT_ROUND.sliceTimeoutSeconds },
  },
  ...PLACEMENT_OPERATIONS,
} as const satisfies Record<string, Operation>;

export type OperationId = keyof typeof OPERATIONS;

/** The operations reached over HTTP, by their OpenAPI id. */
export type HttpOperationId = {
  [K in OperationId]: (typeof OPERATIONS)[K]['trigger'] extends { kind: 'http' } ? K : never;
}[OperationId];

/** Every operation with its id, in the table's order. */
export const OPERATION_LIST: readonly (Operation & { id: OperationId })[] = Object.entries(OPERATIONS).map(
  ([id, op]) => ({ id: id as OperationId, ...op }),
);

/** An HTTP route: what the API Gateway stack and the local runner serve, and the OpenAPI document lists. */
export interface Route {
  id: HttpOperationId;
  name: string;
  method: HttpMethod;
  path: string;
  entry: string;
  access: Access;
}

export const ROUTES: readonly Route[] = OPERATION_LIST.flatMap(({ id, name, trigger, entry, access }) =>
  trigger.kind === 'http'
    ? [{ id: id as HttpOperationId, name, method: trigger.method, path: trigger.path, entry, access }]
    : [],
);

/** Every Lambda entry once, with its access and settings (an entry serving several operations declares them alike). */
export function lambdaEntries(): { entry: string; access: Access; lambda: LambdaSettings }[] {
  const byEntry = new Map<string, Operation>();
  for (const op of OPERATION_LIST) if (!byEntry.has(op.entry)) byEntry.set(op.entry, op);
  return [...byEntry.values()].map(({ entry, access, lambda }) => ({ entry, access, lambda }));
}

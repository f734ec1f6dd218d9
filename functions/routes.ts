// Every HTTP route and the Lambda entry that serves it. The local runner and the CDK stack both read this list.

/**
 * A DynamoDB IAM action an entry may use. Transactions have no action of their own: each item of a
 * TransactWriteItems is authorized as PutItem, UpdateItem, DeleteItem or ConditionCheckItem, and each
 * item of a TransactGetItems as GetItem.
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

/**
 * What an entry's Lambda may touch; the CDK stack grants exactly this and nothing else.
 * test/integration/permissions.test.ts checks it against the commands each handler really sends.
 */
export interface Access {
  /** Actions on the table's own items. */
  table: readonly TableAction[];
  /** Queries the keys-only node index (NODE_INDEX in lib/store/table.ts). */
  nodeIndex?: true;
  /** Receives and deletes messages of the migration status queue (granted with its event source). */
  queue?: 'consume';
}

export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** File under functions/ (without .ts) exporting `handler`. */
  entry: string;
  access: Access;
}

// Device items are written (Put, or Delete for one gone from the inventory) inside the same transactions as
// the node item (Update), after one Query of the node's partition. A status change reads the move's items
// at one moment (TransactGetItems, i.e. GetItem); releasing a moving instance ends its move first.
const WRITE_LEDGER: TableAction[] = ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'];
const CLAIM: Access = { table: ['GetItem', 'Query', 'PutItem', 'UpdateItem'] };
const CHANGE: Access = { table: WRITE_LEDGER };

export const ROUTES: Route[] = [
  { method: 'GET', path: '/nodes', entry: 'list-nodes', access: { table: ['BatchGetItem'], nodeIndex: true } },
  { method: 'PUT', path: '/nodes/{nodeId}', entry: 'put-node', access: CHANGE },
  { method: 'GET', path: '/nodes/{nodeId}', entry: 'get-node', access: { table: ['GetItem'] } },
  { method: 'DELETE', path: '/nodes/{nodeId}', entry: 'delete-node', access: { table: ['DeleteItem', 'Query', 'BatchWriteItem'] } },
  { method: 'POST', path: '/nodes/{nodeId}/instances', entry: 'claim-instance', access: CLAIM },
  { method: 'GET', path: '/nodes/{nodeId}/instances', entry: 'list-instances', access: { table: ['Query'] } },
  { method: 'GET', path: '/nodes/{nodeId}/instances/{instanceUuid}', entry: 'get-instance', access: { table: ['GetItem'] } },
  { method: 'PATCH', path: '/nodes/{nodeId}/instances/{instanceUuid}', entry: 'update-instance', access: CHANGE },
  { method: 'DELETE', path: '/nodes/{nodeId}/instances/{instanceUuid}', entry: 'release-instance', access: CHANGE },
  { method: 'POST', path: '/nodes/{nodeId}/move-claims', entry: 'claim-move', access: { table: ['GetItem', 'BatchGetItem', 'Query', 'PutItem', 'UpdateItem'] } },
  { method: 'DELETE', path: '/nodes/{nodeId}/move-claims/{migrationId}', entry: 'drop-move-claim', access: CHANGE },
  { method: 'GET', path: '/migrations/{migrationId}', entry: 'get-migration', access: { table: ['GetItem'] } },
  { method: 'POST', path: '/migrations/{migrationId}/status', entry: 'update-migration-status', access: CHANGE },
  { method: 'POST', path: '/nodes/{nodeId}/audit', entry: 'audit-node', access: CHANGE },
];

export interface EventEntry {
  entry: string;
  source: 'sqs' | 'schedule';
  access: Access;
}

/** Lambda entries fed by something other than HTTP. */
export const EVENT_ENTRIES: EventEntry[] = [
  { entry: 'migration-status-queue', source: 'sqs', access: { ...CHANGE, queue: 'consume' } },
  { entry: 'audit-all', source: 'schedule', access: { table: ['BatchGetItem', 'Query', 'UpdateItem'], nodeIndex: true } },
];

/** Every Lambda entry once, with its access (an entry serving several routes declares the same access on each). */
export function lambdaEntries(): { entry: string; access: Access }[] {
  const byEntry = new Map<string, Access>();
  for (const { entry, access } of [...ROUTES, ...EVENT_ENTRIES]) if (!byEntry.has(entry)) byEntry.set(entry, access);
  return [...byEntry].map(([entry, access]) => ({ entry, access }));
}

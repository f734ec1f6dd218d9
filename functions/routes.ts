// Every HTTP route and the Lambda entry that serves it. The local runner and the CDK stack both read this list.
export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** File under functions/ (without .ts) exporting `handler`. */
  entry: string;
}

export const ROUTES: Route[] = [
  { method: 'GET', path: '/nodes', entry: 'list-nodes' },
  { method: 'PUT', path: '/nodes/{nodeId}', entry: 'put-node' },
  { method: 'GET', path: '/nodes/{nodeId}', entry: 'get-node' },
  { method: 'DELETE', path: '/nodes/{nodeId}', entry: 'delete-node' },
  { method: 'POST', path: '/nodes/{nodeId}/instances', entry: 'claim-instance' },
  { method: 'GET', path: '/nodes/{nodeId}/instances', entry: 'list-instances' },
  { method: 'GET', path: '/nodes/{nodeId}/instances/{instanceUuid}', entry: 'get-instance' },
  { method: 'PATCH', path: '/nodes/{nodeId}/instances/{instanceUuid}', entry: 'update-instance' },
  { method: 'DELETE', path: '/nodes/{nodeId}/instances/{instanceUuid}', entry: 'release-instance' },
  { method: 'POST', path: '/nodes/{nodeId}/move-claims', entry: 'claim-move' },
  { method: 'DELETE', path: '/nodes/{nodeId}/move-claims/{migrationId}', entry: 'drop-move-claim' },
  { method: 'GET', path: '/migrations/{migrationId}', entry: 'get-migration' },
  { method: 'POST', path: '/migrations/{migrationId}/status', entry: 'update-migration-status' },
  { method: 'POST', path: '/nodes/{nodeId}/audit', entry: 'audit-node' },
];

/** Lambda entries fed by something other than HTTP. */
export const EVENT_ENTRIES = [
  { entry: 'migration-status-queue', source: 'sqs' as const },
  { entry: 'audit-all', source: 'schedule' as const },
];

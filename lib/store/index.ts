// The store's public surface, chosen one by one (no `export *`): the operations, the wiring, the table.
export { createStore, type Store, type StoreConfig, type StoreHooks } from './client';
export { DeviceCache } from './device-cache';
export { ensureTable, KEY, NODE_INDEX, tableDefinition } from './table';
export { layout } from './layout';
export { DEFAULT_RETRY, type RetryKind, type RetryPolicy } from './retry';
export { putNode, getNode, deleteNode, type PutNodeResult } from './nodes';
export { listNodes, listNodePage, listNodeIdPage, type NodeIdPage, type NodePage, type NodeRange } from './node-pages';
export { claimInstance, type ClaimExtra, type ClaimResult } from './claim';
export { deleteGroup, getGroupView, getServerGroup, groupExtra, putGroup, type GroupView } from './server-groups';
export {
  getInstance,
  nodeLedger,
  changeInstance,
  releaseInstance,
  type ChangeResult,
  type StateChange,
} from './instances';
export { claimMove, dropMoveClaim, type MoveRequest, type MoveResult } from './move-claim';
export { changeMigrationStatus, type StatusResult } from './migration-status';
export { getMigration } from './reads';
export { auditNode, type AuditInput, type AuditResult } from './audit';
export { findCandidates } from './candidates';
export { place, MAX_ATTEMPTS, type PlacementRequest, type PlacementResult } from './placements';
export { placeGang, type GangRequest, type GangResult } from './gang';
export { fleet, FLEET_VIEW_TTL_MS } from './fleet';
export {
  applyChanges,
  changeOf,
  changesOfRecords,
  entryKey,
  markerKey,
  readSummary,
  rebuildSummary,
  shardOf,
  type SummaryChange,
} from './fleet-summary';
export { auditNodeAndHolds, type ReleasedHold } from './stale-holds';

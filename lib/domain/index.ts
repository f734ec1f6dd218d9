// The domain's public surface: the pure rules of the ledger, chosen one by one (no `export *`).
export { RESOURCES, ZERO, add, scale, type Amounts, type Resource } from './resources';
export { INVENTORY_DEFAULTS, nodeLimits, reserved, type Inventory } from './inventory';
export { instanceUsage, type Flavor, type Overhead } from './usage';
export {
  GRID,
  claimReasons,
  effectiveLimits,
  exceeds,
  formatFixed2,
  onGrid,
  refusalMessage,
  type ClaimLimits,
  type LimitOverrides,
} from './claim-test';
export {
  UNSHELVING_TASK_STATES,
  VM_STATES,
  applyStatsDelta,
  consumesNothing,
  currentWorkload,
  ioWorkload,
  runningVms,
  statsDelta,
  type InstanceState,
  type Stats,
  type StatsDelta,
  type VmState,
} from './stats';
export {
  canonical,
  claimGuards,
  fingerprint,
  planClaim,
  recordAmounts,
  refusalReasons,
  type ClaimPlan,
  type ClaimRequest,
  type InstanceRecord,
  type PciRequest,
  type ResourceGuard,
  type Sized,
} from './claim';
export { nodeView, type NodeLabels, type NodeState, type NodeView } from './node-view';
export {
  FINAL,
  IN_PROGRESS,
  MOVE_TYPES,
  STATUSES,
  decide,
  isFinal,
  mayStayOnNode,
  placement,
  planMove,
  type Holding,
  type Migration,
  type MigrationStatus,
  type MovePlan,
  type MoveType,
  type Sizing,
} from './migration';
export {
  byAddress,
  claimable,
  matches,
  poolKey,
  pools,
  type Devices,
  type PciDevice,
  type PciDeviceSpec,
  type PciPool,
  type PciRequestSpec,
} from './pci';
export {
  allocate,
  applyChanges,
  busyCondition,
  poolDeltas,
  reconcile,
  release,
  type DeviceChange,
  type PoolDelta,
} from './pci-changes';
export { choose } from './pci-choice';
export { compareWithHypervisor, drift, orphanSet, recount, type Orphan } from './audit';
export {
  POLICIES,
  groupAdmits,
  groupGuard,
  groupWeight,
  violationMessage,
  type GroupGuard,
  type GroupHere,
  type GroupRules,
  type Policy,
  type ServerGroup,
} from './server-groups';
export {
  assignGang,
  freeFigures,
  inScope,
  misfits,
  passesFilters,
  poolsFit,
  rankCandidates,
  type Candidate,
  type Filters,
  type Ranked,
  type Reason,
  type Strategy,
} from './placement';

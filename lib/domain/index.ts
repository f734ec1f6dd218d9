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
  keepsConsuming,
  runningVms,
  statsDelta,
  statsOf,
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
  type NumaAsk,
  type NumaTaken,
  type PciRequest,
  type ResourceGuard,
  type Sized,
} from './claim';
export {
  nodeView,
  type NodeLabels,
  numaCellView,
  type NodeState,
  type NodeView,
  type NumaCellState,
  type NumaCellView,
} from './node-view';
export {
  FINAL,
  IN_PROGRESS,
  MOVE_TYPES,
  STATUSES,
  decide,
  initialStatus,
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
  LIVE_PCI_REASON,
  STALE_HOLD_DEFAULT_MS,
  isStaleHold,
  livePciRefusal,
  livePageSizeRefusal,
  LIVE_PAGE_SIZE_REASON,
  retargetDecision,
  retargeted,
  type RetargetDecision,
} from './live-migration';
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
  busyAtRisk,
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
  byNodeId,
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
// NUMA (docs/numa.md): the guest's request, the fit, the per-cell usage and the refusal texts.
export type {
  CpuPolicy,
  CpuThreadPolicy,
  EmulatorThreadsPolicy,
  FittedCell,
  FittedTopology,
  GuestCellRequest,
  HostCell,
  HostCellInventory,
  HostCellUsage,
  HostTopology,
  MemPages,
  NumaLimits,
  NumaRequest,
  PageSizeRequest,
} from './numa-types';
export { numaRequestFrom, pciNumaPolicyFrom, type NumaRequestInput, type NumaTopologyInput } from './numa-request';
export { R9, parseCpuSpec, parsePageSize } from './numa-request-checks';
export {
  NUMA_PCI_REASON,
  NUMA_REASON,
  applyNumaUsage,
  numaReasons,
  numaRefusal,
  numaUsage,
  occupied,
  pinProblems,
  smallestPageKb,
  type NumaCellChange,
} from './numa-usage';
export {
  SEARCH_BUDGET,
  decideNuma,
  fitConditions,
  fitNumaTopology,
  fitPair,
  meetsConditions,
  orderCells,
  requestFromFitted,
  type FitOptions,
  type NumaDecision,
  type NumaCellCondition,
} from './numa-fit';
export { choosePageSize, freePages, memoryFit, pagesFor } from './numa-pages';
export { PCI_NUMA_POLICIES, pciOnCells, type NumaPciRequest, type PciNumaPolicy } from './numa-pci';
export { cores, packOntoCores, threadsPerCore, type Pinning } from './numa-pinning';
export {
  batchBounds,
  fitsOn,
  takeInOrder,
  type BatchBound,
  type NodeFigures,
  type WaitingClaim,
} from './waiting-claims';

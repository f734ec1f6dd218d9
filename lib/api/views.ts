import { nodeView, type Amounts, type InstanceRecord, type Migration, type NodeState, type NodeView } from '../domain';

/** The instance record as clients see it: the claim's figures and the instance's state. */
export function instanceView(record: InstanceRecord) {
  const { fingerprint: _fingerprint, numaTaken: _taken, ...rest } = record;
  return rest;
}

export function claimView(
  record: InstanceRecord,
  node?: NodeState,
): ReturnType<typeof instanceView> & { node?: NodeView } {
  return node ? { ...instanceView(record), node: nodeView(node) } : instanceView(record);
}

/** A migration as clients see it: where from, where to, both flavors, the status and the last sequence applied. */
export function migrationView(m: Migration) {
  return {
    migrationId: m.migrationId,
    instanceUuid: m.instanceUuid,
    moveType: m.moveType,
    sourceNodeId: m.sourceNodeId,
    destNodeId: m.destNodeId,
    oldFlavor: m.old.flavor,
    newFlavor: m.new.flavor,
    status: m.status,
    sequence: m.sequence,
    oldUsage: m.old.amounts,
    newUsage: m.new.amounts,
  };
}

/** What a move claim took on its destination, in the shape of an instance claim. */
export function moveClaimView(m: Migration, node?: NodeState) {
  // The destination's fitted topology, when the move asked for NUMA (rule NS5).
  const numa = (m as { numa?: { new?: { topology: unknown } } }).numa?.new;
  const claim = {
    nodeId: m.destNodeId,
    instanceUuid: m.instanceUuid,
    ...m.new.amounts,
    pciDevices: m.new.pciDevices,
    ...(numa ? { numaTopology: numa.topology } : {}),
  };
  return node ? { ...claim, node: nodeView(node) } : claim;
}

/** A move's hold on a node: which migration, for which instance, which side (new on the destination). */
export function holdView(h: { migrationId: string; instanceUuid: string; role: 'new' | 'old' } & Amounts) {
  const { migrationId, instanceUuid, role, memoryMb, diskGb, vcpus } = h;
  return { migrationId, instanceUuid, role, memoryMb, diskGb, vcpus };
}

import { nodeView, type InstanceRecord, type NodeState, type NodeView } from '../domain';

/** The instance record as clients see it: the claim's figures and the instance's state. */
export function instanceView(record: InstanceRecord) {
  const { fingerprint: _fingerprint, ...rest } = record;
  return rest;
}

export function claimView(record: InstanceRecord, node?: NodeState): ReturnType<typeof instanceView> & { node?: NodeView } {
  return node ? { ...instanceView(record), node: nodeView(node) } : instanceView(record);
}

// The fleet view (rule G4): every node's figures, read from the fleet summary (rule G12) or, until that is whole,
// from the node index and batched reads; kept per container for a short time and shared by the requests that
// arrive meanwhile (one read at a time). It may be stale; the claim's conditional write decides.
import type { Amounts, NodeState } from '../domain';
import type { Store } from './client';
import { readSummary } from './fleet-summary';
import { listNodes } from './node-pages';

/** How long a container trusts its view, unless FLEET_VIEW_TTL_MS says otherwise. */
export const FLEET_VIEW_TTL_MS = 2000;

export interface FleetView {
  nodes: Map<string, NodeState>;
  /** When the read that made it started (ms since the epoch). */
  readAt: number;
}

const ttl = () => Number(process.env.FLEET_VIEW_TTL_MS || FLEET_VIEW_TTL_MS);

class FleetCache {
  private view?: FleetView;
  private loading?: Promise<FleetView>;

  constructor(private readonly store: Store) {}

  /** The view, read again if it is older than the TTL or than `notBefore`. */
  async get(notBefore = 0): Promise<FleetView> {
    const now = Date.now();
    if (this.view && now - this.view.readAt < ttl() && this.view.readAt >= notBefore) return this.view;
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    const view = await this.loading;
    // A read that started before `notBefore` (shared with an earlier request) is not fresh enough.
    return view.readAt >= notBefore ? view : this.get(notBefore);
  }

  private async load(): Promise<FleetView> {
    const readAt = Date.now();
    // The summary (fleet-summary.ts) once a repair has made it whole; every node item read until then.
    const nodes = (await readSummary(this.store)) ?? (await listNodes(this.store));
    this.view = { nodes: new Map(nodes.map((n) => [n.nodeId, n])), readAt };
    return this.view;
  }

  /** A claim this container made: the view counts it until the next read. */
  claimed(nodeId: string, amounts: Amounts): void {
    const node = this.view?.nodes.get(nodeId);
    if (!node) return;
    const used = { ...node.used };
    for (const r of Object.keys(used) as (keyof Amounts)[]) used[r] += amounts[r];
    this.view?.nodes.set(nodeId, { ...node, used });
  }

  /** A node that refused a claim: left out of this view; the next read brings it back as it is then. */
  refused(nodeId: string): void {
    this.view?.nodes.delete(nodeId);
  }
}

const caches = new WeakMap<Store, FleetCache>();

/** The container's fleet view of the store's table. */
export function fleet(store: Store): FleetCache {
  let cache = caches.get(store);
  if (!cache) caches.set(store, (cache = new FleetCache(store)));
  return cache;
}

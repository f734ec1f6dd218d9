import { rankCandidates, type Candidate, type Filters, type Sized, type Strategy } from '../domain';
import type { Store } from './client';
import { fleet } from './fleet';
import { groupHere } from './placements';

/** The candidates for a claim (rules G2, G3), from the container's fleet view, best first, at most `limit`. */
export async function findCandidates(
  store: Store,
  request: Sized & { serverGroup?: string },
  filters: Filters,
  strategy: Strategy,
  limit: number,
): Promise<Candidate[]> {
  const here = request.serverGroup === undefined ? undefined : await groupHere(store, request.serverGroup);
  const { nodes } = await fleet(store).get();
  return rankCandidates(nodes.values(), request, filters, strategy, here, limit).candidates;
}

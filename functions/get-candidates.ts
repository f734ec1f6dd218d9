import { httpHandler, json } from '../lib/api/http';
import { runtime } from '../lib/api/runtime';
import { candidatesQuerySchema, type CandidatesQuery } from '../lib/api/schemas-candidates';
import { PLACEMENT_OPERATIONS as OPERATIONS } from '../lib/operations-placement';
import { findCandidates } from '../lib/store';

// The sizes alone, as a flavor: no overhead, no limits of the request's own, no devices.
async function candidates(_event: unknown, _context: unknown, q: CandidatesQuery) {
  const { vcpus, memoryMb, diskGb, required, forbidden, memberOf, strategy, limit } = q;
  const request = {
    flavor: { vcpus, memoryMb, rootGb: diskGb, ephemeralGb: 0, swapMb: 0 },
    overhead: { memoryMb: 0, diskGb: 0, vcpus: 0 },
    volumeBacked: false,
    limits: {},
    pciRequests: [],
  };
  const found = await findCandidates(runtime().store, request, { required, forbidden, memberOf }, strategy, limit);
  return json(200, { candidates: found });
}

export const handler = httpHandler(OPERATIONS.getCandidates, candidates, { query: candidatesQuerySchema });

// The OpenAPI document's part for placement and server groups (docs/placement.md): schemas and exchanges,
// spread into lib/api/openapi.ts.
import * as z from 'zod';
import type { PlacementOperationId } from '../operations-placement';
import type { Exchange } from './openapi-exchanges';
import {
  candidateListSchema,
  placementResponseSchema,
  serverGroupSchema,
  serverGroupViewSchema,
} from './responses-placement';
import { candidatesBodySchema, candidatesQuerySchema } from './schemas-candidates';
import { serverGroupSchema as groupRequest } from './schemas-groups';
import { gangPlacementSchema, singlePlacementSchema } from './schemas-placement';

export const PLACEMENT_REQUESTS = {
  CandidatesRequest: candidatesBodySchema,
  PlacementRequest: z.union([singlePlacementSchema, gangPlacementSchema]),
  ServerGroupRequest: groupRequest,
};

export const PLACEMENT_RESPONSES = {
  Candidates: candidateListSchema,
  Placement: placementResponseSchema,
  ServerGroup: serverGroupSchema,
  ServerGroupView: serverGroupViewSchema,
};

const found = 'The nodes where it fits, best first.';

export const PLACEMENT_EXCHANGES: Record<PlacementOperationId, Exchange> = {
  getCandidates: { query: candidatesQuerySchema, ok: [{ status: 200, description: found, schema: 'Candidates' }] },
  postCandidates: { body: 'CandidatesRequest', ok: [{ status: 200, description: found, schema: 'Candidates' }] },
  createPlacement: {
    body: 'PlacementRequest',
    ok: [
      { status: 201, description: 'Placed and claimed.', schema: 'Placement' },
      { status: 200, description: 'The same request again: the same placement.', schema: 'Placement' },
    ],
  },
  putServerGroup: {
    body: 'ServerGroupRequest',
    ok: [
      { status: 201, description: 'Created.', schema: 'ServerGroup' },
      { status: 200, description: 'Policy set.', schema: 'ServerGroup' },
    ],
  },
  getServerGroup: { ok: [{ status: 200, description: 'The group and its members.', schema: 'ServerGroupView' }] },
  deleteServerGroup: { ok: [{ status: 204, description: 'Deleted.' }] },
};

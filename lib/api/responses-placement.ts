// The answers of placement and server groups, as zod schemas for the OpenAPI document (see responses.ts).
import * as z from 'zod';
import { POLICIES } from '../domain';
import { claimResponseSchema } from './responses';

const rules = z.object({ maxServerPerHost: z.number().int().optional() });

export const serverGroupSchema = z.object({ groupId: z.string(), policy: z.enum(POLICIES), rules });

export const serverGroupViewSchema = serverGroupSchema.extend({
  members: z.array(z.object({ instanceUuid: z.string(), nodeId: z.string() })),
});

export const candidateListSchema = z.object({
  candidates: z.array(
    z.object({
      nodeId: z.string(),
      freeRamMb: z.number(),
      freeDiskGb: z.number(),
      vcpusFree: z.number(),
      weight: z.number().meta({ description: 'higher is better; candidates come in its order (rule G3)' }),
    }),
  ),
});

export const placementResponseSchema = z.union([
  z.object({
    nodeId: z.string(),
    claim: claimResponseSchema,
    attempts: z.number().int().meta({ description: 'claims tried, the successful one included (rule G5)' }),
  }),
  z.object({
    placements: z.array(z.object({ instanceUuid: z.string(), nodeId: z.string(), claim: claimResponseSchema })),
  }),
]);

// Request schemas of placement and server groups (rules G2-G11); the claim's own fields come from schemas.ts.
import * as z from 'zod';
import { POLICIES } from '../domain';
import { aggregateIdSchema, claimFields, claimRefinement, groupIdSchema, nodeIdSchema, traitSchema } from './schemas';

export const serverGroupSchema = z
  .strictObject({
    policy: z.enum(POLICIES, { message: `must be one of ${POLICIES.join(', ')}` }),
    rules: z.strictObject({ maxServerPerHost: z.number().int().min(1).max(1000).optional() }).default({}),
  })
  .refine((g) => g.policy === 'anti-affinity' || g.rules.maxServerPerHost === undefined, {
    message: 'maxServerPerHost applies to anti-affinity only',
    path: ['rules', 'maxServerPerHost'],
  });

export const STRATEGIES = ['spread', 'pack'] as const;
/** The most candidates one answer lists. */
export const CANDIDATES_MAX = 1000;
export const CANDIDATES_DEFAULT = 50;

const filters = {
  required: z.array(traitSchema).max(64).default([]),
  forbidden: z.array(traitSchema).max(64).default([]),
  memberOf: z.array(aggregateIdSchema).max(64).default([]),
  strategy: z.enum(STRATEGIES, { message: 'must be spread or pack' }).default('spread'),
};

const { instanceUuid: _uuid, ...sized } = claimFields;
const refine = <T extends z.ZodType<Parameters<typeof claimRefinement.check>[0]>>(schema: T) =>
  schema.refine(claimRefinement.check, { message: claimRefinement.message, path: claimRefinement.path });

/** POST /candidates: a claim body without instanceUuid, and the filters as fields. */
export const candidatesBodySchema = refine(
  z.strictObject({
    ...sized,
    ...filters,
    limit: z.number().int().min(1).max(CANDIDATES_MAX).default(CANDIDATES_DEFAULT),
  }),
);

const list = (item: z.ZodType<string, string>) =>
  z
    .string()
    .max(4096)
    .transform((s) => (s === '' ? [] : s.split(',')))
    .pipe(z.array(item).max(64));
const whole = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a whole number' })
    .int({ message: 'must be a whole number' })
    .min(min, { message: `must be ${min} to ${max}` })
    .max(max, { message: `must be ${min} to ${max}` });

/** GET /candidates: the sizes and the filters as query parameters (lists comma-separated). */
export const candidatesQuerySchema = z.strictObject({
  vcpus: whole(0, 1_000_000_000).default(0),
  memoryMb: whole(0, 1_000_000_000).default(0),
  diskGb: whole(0, 1_000_000_000).default(0),
  required: list(traitSchema).default([]),
  forbidden: list(traitSchema).default([]),
  memberOf: list(aggregateIdSchema).default([]),
  strategy: filters.strategy,
  limit: whole(1, CANDIDATES_MAX).default(CANDIDATES_DEFAULT),
});

/** One member of a placement: a claim body (no node). */
const { serverGroup: _group, ...memberFields } = claimFields;
const member = refine(z.strictObject(memberFields));

// A gang's transaction holds 3 items per member and 2 per node (and the group's): 19 members fit 100 (rule G11).
export const GANG_MAX = 19;

/** POST /placements: one claim body with filters, or a gang of them (`instances`) sharing the filters and group. */
export const placementSchema = z.union([
  refine(z.strictObject({ ...claimFields, ...filters, candidates: z.array(nodeIdSchema).min(1).max(1000).optional() })),
  z.strictObject({
    instances: z
      .array(member)
      .min(1)
      .max(GANG_MAX)
      .refine((xs) => new Set(xs.map((x) => x.instanceUuid)).size === xs.length, {
        message: 'instance UUIDs must not repeat',
      })
      .refine((xs) => xs.every((x) => x.pciRequests.length === 0), {
        message: 'gang members take no PCI devices',
      }),
    serverGroup: groupIdSchema.optional(),
    ...filters,
    candidates: z.array(nodeIdSchema).min(1).max(1000).optional(),
  }),
]);

export type ServerGroupBody = z.output<typeof serverGroupSchema>;
export type CandidatesBody = z.output<typeof candidatesBodySchema>;
export type CandidatesQuery = z.output<typeof candidatesQuerySchema>;
export type PlacementBody = z.output<typeof placementSchema>;
export { groupIdSchema };

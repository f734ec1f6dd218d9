// Request schemas of placements (rules G2, G5, G11); the claim's own fields come from schemas.ts. The candidates'
// and the server groups' are apart (schemas-candidates.ts, schemas-groups.ts), so each handler builds only its own.
import * as z from 'zod/mini';
import { schema } from './zod';
import { oneNumaForm } from './numa-schemas';
import { aggregateIdSchema, claimFields, claimRefinement, groupIdSchema, nodeIdSchema, traitSchema } from './schemas';

export const STRATEGIES = ['spread', 'pack'] as const;
/** The most candidates one answer lists. */
export const CANDIDATES_MAX = 1000;
export const CANDIDATES_DEFAULT = 50;

/** The filters of a candidates query or a placement (rule G2). */
export const filters = /* @__PURE__ */ schema(() => ({
  required: z._default(z.array(traitSchema).check(z.maxLength(64)), []),
  forbidden: z._default(z.array(traitSchema).check(z.maxLength(64)), []),
  memberOf: z._default(z.array(aggregateIdSchema).check(z.maxLength(64)), []),
  strategy: z._default(z.enum(STRATEGIES, { message: 'must be spread or pack' }), 'spread'),
}));

type Refined = Parameters<typeof claimRefinement.check>[0] & Parameters<typeof oneNumaForm.check>[0];
export const refine = <T extends z.ZodMiniType<Refined>>(schema: T) =>
  schema.check(
    z.refine(oneNumaForm.check, { message: oneNumaForm.message, path: ['numaTopology'] }),
    z.refine(claimRefinement.check, { message: claimRefinement.message, path: claimRefinement.path }),
  );

/** One member of a placement: a claim body (no node). */
const member = /* @__PURE__ */ schema(() => {
  const { serverGroup: _group, ...memberFields } = claimFields;
  return refine(z.strictObject(memberFields));
});

// A gang's transaction holds 3 items per member and 2 per node (and the group's): 19 members fit 100 (rule G11).
export const GANG_MAX = 19;

const candidates = /* @__PURE__ */ schema(() =>
  z.optional(z.array(nodeIdSchema).check(z.minLength(1), z.maxLength(1000))),
);

/** POST /placements of one instance: a claim body (no node) with the filters. */
export const singlePlacementSchema = /* @__PURE__ */ schema(() =>
  refine(z.strictObject({ ...claimFields, ...filters, candidates })),
);

/** POST /placements of a gang: its members (`instances`), sharing the filters and the server group. */
export const gangPlacementSchema = /* @__PURE__ */ schema(() =>
  z.strictObject({
    instances: z.array(member).check(
      z.minLength(1),
      z.maxLength(GANG_MAX),
      z.refine((xs) => new Set(xs.map((x) => x.instanceUuid)).size === xs.length, {
        message: 'instance UUIDs must not repeat',
      }),
      z.refine((xs) => xs.every((x) => x.pciRequests.length === 0), { message: 'gang members take no PCI devices' }),
    ),
    serverGroup: z.optional(groupIdSchema),
    ...filters,
    candidates,
  }),
);

export type SinglePlacementBody = z.output<typeof singlePlacementSchema>;
export type GangPlacementBody = z.output<typeof gangPlacementSchema>;

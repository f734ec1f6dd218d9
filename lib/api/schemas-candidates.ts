// Request schemas of GET and POST /candidates (rule G2).
import * as z from 'zod/mini';
import { schema, wholeNumber, wholeQuery } from './zod';
import { aggregateIdSchema, claimFields, traitSchema } from './schemas';
import { CANDIDATES_DEFAULT, CANDIDATES_MAX, filters, refine } from './schemas-placement';

/** POST /candidates: a claim body without instanceUuid, and the filters as fields. */
export const candidatesBodySchema = /* @__PURE__ */ schema(() => {
  const { instanceUuid: _uuid, ...sized } = claimFields;
  return refine(
    z.strictObject({
      ...sized,
      ...filters,
      limit: z._default(wholeNumber(1, CANDIDATES_MAX), CANDIDATES_DEFAULT),
    }),
  );
});

const list = (item: z.ZodMiniType<string, string>) =>
  z.pipe(
    z.pipe(
      z.string().check(z.maxLength(4096)),
      z.transform((s: string) => (s === '' ? [] : s.split(','))),
    ),
    z.array(item).check(z.maxLength(64)),
  );
const whole = wholeQuery;

/** GET /candidates: the sizes and the filters as query parameters (lists comma-separated). */
export const candidatesQuerySchema = /* @__PURE__ */ schema(() =>
  z.strictObject({
    vcpus: z._default(whole(0, 1_000_000_000), 0),
    memoryMb: z._default(whole(0, 1_000_000_000), 0),
    diskGb: z._default(whole(0, 1_000_000_000), 0),
    required: z._default(list(traitSchema), []),
    forbidden: z._default(list(traitSchema), []),
    memberOf: z._default(list(aggregateIdSchema), []),
    strategy: filters.strategy,
    limit: z._default(whole(1, CANDIDATES_MAX), CANDIDATES_DEFAULT),
  }),
);

export type CandidatesBody = z.output<typeof candidatesBodySchema>;
export type CandidatesQuery = z.output<typeof candidatesQuerySchema>;

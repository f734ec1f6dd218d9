// Request schemas of GET and POST /candidates (rule G2).
import * as z from 'zod';
import { aggregateIdSchema, claimFields, traitSchema } from './schemas';
import { CANDIDATES_DEFAULT, CANDIDATES_MAX, filters, refine } from './schemas-placement';

const { instanceUuid: _uuid, ...sized } = claimFields;

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

export type CandidatesBody = z.output<typeof candidatesBodySchema>;
export type CandidatesQuery = z.output<typeof candidatesQuerySchema>;

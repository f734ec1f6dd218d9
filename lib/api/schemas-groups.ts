// Request schemas of the server-group routes (rule G7).
import * as z from 'zod/mini';
import { schema, wholeNumber } from './zod';
import { POLICIES } from '../domain';
import { groupIdSchema } from './schemas';

export const serverGroupSchema = /* @__PURE__ */ schema(() =>
  z
    .strictObject({
      policy: z.enum(POLICIES, { message: `must be one of ${POLICIES.join(', ')}` }),
      rules: z._default(z.strictObject({ maxServerPerHost: z.optional(wholeNumber(1, 1000)) }), {}),
    })
    .check(
      z.refine((g) => g.policy === 'anti-affinity' || g.rules.maxServerPerHost === undefined, {
        message: 'maxServerPerHost applies to anti-affinity only',
        path: ['rules', 'maxServerPerHost'],
      }),
    ),
);

export type ServerGroupBody = z.output<typeof serverGroupSchema>;
export { groupIdSchema };

// Request schemas of the server-group routes (rule G7).
import * as z from 'zod';
import { POLICIES } from '../domain';
import { groupIdSchema } from './schemas';

export const serverGroupSchema = z
  .strictObject({
    policy: z.enum(POLICIES, { message: `must be one of ${POLICIES.join(', ')}` }),
    rules: z.strictObject({ maxServerPerHost: z.number().int().min(1).max(1000).optional() }).default({}),
  })
  .refine((g) => g.policy === 'anti-affinity' || g.rules.maxServerPerHost === undefined, {
    message: 'maxServerPerHost applies to anti-affinity only',
    path: ['rules', 'maxServerPerHost'],
  });

export type ServerGroupBody = z.output<typeof serverGroupSchema>;
export { groupIdSchema };

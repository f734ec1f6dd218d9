// The query parameters of GET /nodes and of dropping a move claim.
import * as z from 'zod/mini';
import { nodeIdSchema } from './schemas';
import { schema, wholeQuery } from './zod';

/** The largest page of GET /nodes: 1,000 node views are about 0.6 MB, far below Lambda's 6 MB answer. */
export const NODE_PAGE_MAX = 1000;
export const NODE_PAGE_DEFAULT = 100;

/** Where a page of nodes starts: opaque to clients (base64url of the last nodeId of the page before). */
export const pageToken = {
  of: (nodeId: string) => Buffer.from(nodeId, 'utf8').toString('base64url'),
  read: (token: string) => Buffer.from(token, 'base64url').toString('utf8'),
};

export const listNodesQuerySchema = /* @__PURE__ */ schema(() =>
  z.strictObject({
    limit: z._default(wholeQuery(1, NODE_PAGE_MAX), NODE_PAGE_DEFAULT),
    next: z.optional(
      z.pipe(
        z.string().check(
          z.maxLength(256),
          z.refine((t) => /^[A-Za-z0-9_-]+$/.test(t) && nodeIdSchema.safeParse(pageToken.read(t)).success, {
            message: 'is not a page token this API gave',
          }),
        ),
        z.transform(pageToken.read),
      ),
    ),
  }),
);

export const dropQuerySchema = /* @__PURE__ */ schema(() =>
  z.strictObject({
    flavor: z._default(z.enum(['new', 'old'], { message: 'must be new or old' }), 'new'),
  }),
);

export type ListNodesQuery = z.output<typeof listNodesQuerySchema>;
export type DropQuery = z.output<typeof dropQuerySchema>;

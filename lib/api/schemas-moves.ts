// The bodies of moves (POST /nodes/{nodeId}/move-claims, rules M1-M4, L1, L4) and of migration status updates (the
// route and the queue, rules D4, D9), apart from schemas.ts so that only the move handlers build them.
import * as z from 'zod/mini';
import { MOVE_TYPES, STATUSES } from '../domain';
import { guestTopologySchema, imageSchema, oneNumaForm } from './numa-schemas';
import {
  flavor,
  instanceUuidSchema,
  limits,
  MAX_LIVE_DEVICES,
  migrationIdSchema,
  nodeIdSchema,
  overhead,
  pciRequests,
} from './schemas';
import { schema, wholeNumber } from './zod';

export const moveClaimSchema = /* @__PURE__ */ schema(() =>
  z
    .strictObject({
      migrationId: migrationIdSchema,
      instanceUuid: instanceUuidSchema,
      moveType: z.enum(MOVE_TYPES, { message: `must be one of ${MOVE_TYPES.join(', ')}` }),
      sourceNodeId: nodeIdSchema,
      newFlavor: z.optional(flavor),
      overhead: z.optional(overhead),
      limits,
      pciRequests,
      image: imageSchema,
      numaTopology: guestTopologySchema,
    })
    .check(
      z.refine((b) => oneNumaForm.check({ ...b, flavor: b.newFlavor }), {
        message: oneNumaForm.message,
        path: ['numaTopology'],
      }),
      z.refine((b) => b.moveType !== 'resize' || b.newFlavor !== undefined, {
        message: 'a resize needs newFlavor',
        path: ['newFlavor'],
      }),
      // Rule L1: a live guest keeps its flavor.
      z.refine((b) => b.moveType !== 'live-migration' || b.newFlavor === undefined, {
        message: "a live migration keeps the instance's flavor: leave newFlavor out",
        path: ['newFlavor'],
      }),
      // Rule L4: a re-target frees one destination's devices and takes the other's in one transaction.
      z.refine(
        (b) => b.moveType !== 'live-migration' || b.pciRequests.reduce((n, r) => n + r.count, 0) <= MAX_LIVE_DEVICES,
        {
          message: `a live migration takes at most ${MAX_LIVE_DEVICES} devices`,
          path: ['pciRequests'],
        },
      ),
    ),
);

// Sequences start at 1: a migration has applied sequence 0 when it is created.
export const sequenceSchema = /* @__PURE__ */ schema(() => wholeNumber(1, Number.MAX_SAFE_INTEGER));

export const statusUpdateSchema = /* @__PURE__ */ schema(() =>
  z.strictObject({
    status: z.enum(STATUSES, { message: `must be one of ${STATUSES.join(', ')}` }),
    sequence: z.optional(sequenceSchema),
  }),
);

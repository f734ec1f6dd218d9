// What the OpenAPI document (lib/api/openapi.ts) says of each route beyond the table of operations: the named
// request and response schemas, the path parameters, and each operation's body, query and successful answers.
import type * as z from 'zod';
import type { HttpOperationId } from '../operations';
import {
  auditSchema,
  claimSchema,
  instanceUuidSchema,
  inventorySchema,
  migrationIdSchema,
  nodeIdSchema,
  putNodeSchema,
  stateChangeSchema,
} from './schemas';
import { moveClaimSchema, statusUpdateSchema } from './schemas-moves';
import {
  auditResponseSchema,
  claimResponseSchema,
  errorSchema,
  instanceListSchema,
  instanceRecordSchema,
  migrationSchema,
  moveClaimResponseSchema,
  nodeListSchema,
  nodeViewSchema,
  pciPoolSchema,
  stateChangeResponseSchema,
  statusResponseSchema,
} from './responses';
import { PLACEMENT_EXCHANGES, PLACEMENT_REQUESTS, PLACEMENT_RESPONSES } from './openapi-placement';
import { groupIdSchema } from './schemas-groups';
import { dropQuerySchema, listNodesQuerySchema } from './schemas-queries';

export const REQUEST_SCHEMAS = {
  Inventory: inventorySchema,
  NodeRegistration: putNodeSchema,
  ClaimRequest: claimSchema,
  StateChange: stateChangeSchema,
  MoveClaimRequest: moveClaimSchema,
  StatusUpdate: statusUpdateSchema,
  AuditRequest: auditSchema,
  ...PLACEMENT_REQUESTS,
} satisfies Record<string, z.core.$ZodType>;

export const RESPONSE_SCHEMAS = {
  NodeView: nodeViewSchema,
  NodeList: nodeListSchema,
  PciPool: pciPoolSchema,
  InstanceRecord: instanceRecordSchema,
  InstanceList: instanceListSchema,
  Claim: claimResponseSchema,
  InstanceAfterChange: stateChangeResponseSchema,
  Migration: migrationSchema,
  MigrationAfterStatus: statusResponseSchema,
  MoveClaim: moveClaimResponseSchema,
  AuditResult: auditResponseSchema,
  ...PLACEMENT_RESPONSES,
  Error: errorSchema,
} satisfies Record<string, z.core.$ZodType>;

export type RequestName = keyof typeof REQUEST_SCHEMAS;
export type ResponseName = keyof typeof RESPONSE_SCHEMAS;

export const PATH_PARAMETERS: Record<string, { schema: z.core.$ZodType; description: string }> = {
  nodeId: { schema: nodeIdSchema, description: 'The compute node.' },
  instanceUuid: { schema: instanceUuidSchema, description: 'The instance (compared case-insensitively).' },
  migrationId: { schema: migrationIdSchema, description: 'The migration (move).' },
  groupId: { schema: groupIdSchema, description: 'The server group.' },
};

/** What the document says of an operation beyond the table: its request and its successful answers. */
export interface Exchange {
  body?: RequestName;
  /** The body may be left out: its fields are all optional. */
  bodyOptional?: boolean;
  query?: z.core.$ZodType;
  /** Answers `Prefer: return=minimal` by leaving the node view out. */
  prefer?: boolean;
  ok: Array<{ status: number; description: string; schema?: ResponseName }>;
}

export const EXCHANGES: Record<HttpOperationId, Exchange> = {
  listNodes: {
    query: listNodesQuerySchema,
    ok: [{ status: 200, description: 'A page of node views, in nodeId order.', schema: 'NodeList' }],
  },
  putNode: {
    body: 'NodeRegistration',
    ok: [
      { status: 201, description: 'Registered.', schema: 'NodeView' },
      { status: 200, description: 'Inventory replaced.', schema: 'NodeView' },
    ],
  },
  getNode: { ok: [{ status: 200, description: 'The node view.', schema: 'NodeView' }] },
  deleteNode: { ok: [{ status: 204, description: 'Deleted.' }] },
  claimInstance: {
    body: 'ClaimRequest',
    prefer: true,
    ok: [
      { status: 201, description: 'Claimed.', schema: 'Claim' },
      { status: 200, description: 'A retry of a claim already made: the same claim.', schema: 'Claim' },
    ],
  },
  listInstances: { ok: [{ status: 200, description: 'The records.', schema: 'InstanceList' }] },
  getInstance: { ok: [{ status: 200, description: 'The record.', schema: 'InstanceRecord' }] },
  updateInstance: {
    body: 'StateChange',
    ok: [{ status: 200, description: 'The record; tracked is false once released.', schema: 'InstanceAfterChange' }],
  },
  releaseInstance: { ok: [{ status: 204, description: 'Released, or no longer tracked.' }] },
  claimMove: {
    body: 'MoveClaimRequest',
    prefer: true,
    ok: [
      {
        status: 201,
        description: 'Claimed; the migration is pre-migrating (a live migration: accepted).',
        schema: 'MoveClaim',
      },
      { status: 200, description: 'A retry of a move claim already made.', schema: 'MoveClaim' },
    ],
  },
  dropMoveClaim: { query: dropQuerySchema, ok: [{ status: 204, description: 'Dropped, or not held.' }] },
  getMigration: { ok: [{ status: 200, description: 'The migration.', schema: 'Migration' }] },
  updateMigrationStatus: {
    body: 'StatusUpdate',
    ok: [{ status: 200, description: 'The migration after the update.', schema: 'MigrationAfterStatus' }],
  },
  auditNode: {
    body: 'AuditRequest',
    bodyOptional: true,
    ok: [{ status: 200, description: 'The node after the audit and what changed.', schema: 'AuditResult' }],
  },
  ...PLACEMENT_EXCHANGES,
};

// The HTTP status of each error code: the one place the contract's statuses meet lib/errors.ts. The error
// middleware (lib/api/http.ts) answers with it and the OpenAPI document lists it.
import type { ErrorCode } from '../errors';

/** Exhaustive by type: a code added to ERROR_CODES does not compile until it has its status here. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  ValidationError: 400,
  Forbidden: 403,
  NodeNotFound: 404,
  InstanceNotFound: 404,
  MigrationNotFound: 404,
  InsufficientResources: 409,
  InstanceConflict: 409,
  InvalidTransition: 409,
  InvalidMove: 409,
  NodeInUse: 409,
  Unavailable: 503,
  NoValidHost: 409,
  GroupPolicyViolation: 409,
  GroupInUse: 409,
  GroupNotFound: 404,
};

/** What a failure that is none of the codes answers. */
export const INTERNAL_ERROR = {
  status: 500,
  code: 'InternalError',
  message: 'The request failed unexpectedly; it may be retried.',
} as const;

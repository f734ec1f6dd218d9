// Failures every layer may raise. They say what went wrong and carry its data; how an answer shows them
// (the HTTP status of each code) is decided at the edge, in lib/api/error-status.ts.

/** Every error code of the contract, once: the classes below, the edge's statuses and the OpenAPI document read it. */
export const ERROR_CODES = {
  ValidationError: { summary: 'The request, a path parameter or the query does not fit the schema.' },
  Forbidden: { summary: "The caller's role may not do this (on this node); nothing changed." },
  NodeNotFound: { summary: 'The node is not registered.' },
  InstanceNotFound: { summary: 'The instance is not tracked on the node.' },
  MigrationNotFound: { summary: 'The migration is not known.' },
  InsufficientResources: { summary: 'The claim does not fit the node; nothing was claimed.' },
  InstanceConflict: { summary: 'The instance is already tracked with something else.' },
  InvalidTransition: { summary: 'The migration cannot take that status.' },
  InvalidMove: { summary: 'The move is not one Nova makes: a migration or evacuation onto its own node.' },
  NodeInUse: { summary: 'The node still tracks instances or move claims.' },
  Unavailable: { summary: 'The store stayed busy past the retries; nothing changed.' },
  NoValidHost: { summary: 'No candidate node could take the placement; nothing was claimed.' },
  GroupPolicyViolation: {
    summary: "The claim would break its server group's affinity or anti-affinity; nothing changed.",
  },
  GroupInUse: { summary: 'The server group has members: its policy cannot change and it cannot be deleted.' },
  GroupNotFound: { summary: 'The server group is not known.' },
} as const satisfies Record<string, { summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);

/** Each class takes, last, the failure that led to it: ES2022's `{ cause }` (the lib's ErrorOptions). */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = code;
  }
}

export interface Issue {
  path: string;
  message: string;
}

export class ValidationError extends AppError {
  constructor(message: string, issues: Issue[] = [], options?: ErrorOptions) {
    super('ValidationError', message, { issues }, options);
  }
}

/** The caller's role may not use the route, on this node or with this body (docs/security.md). */
export class Forbidden extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super('Forbidden', message, {}, options);
  }
}

export class NodeNotFound extends AppError {
  constructor(nodeId: string, options?: ErrorOptions) {
    super('NodeNotFound', `Node ${nodeId} is not registered.`, {}, options);
  }
}

export class InstanceNotFound extends AppError {
  constructor(nodeId: string, instanceUuid: string, options?: ErrorOptions) {
    super('InstanceNotFound', `Instance ${instanceUuid} is not tracked on node ${nodeId}.`, {}, options);
  }
}

export class InsufficientResources extends AppError {
  constructor(message: string, reasons: string[], options?: ErrorOptions) {
    super('InsufficientResources', message, { reasons }, options);
  }
}

export class InstanceConflict extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super('InstanceConflict', message, {}, options);
  }
}

export class NodeInUse extends AppError {
  constructor(nodeId: string, tracked: number, options?: ErrorOptions) {
    super(
      'NodeInUse',
      `Node ${nodeId} still tracks ${tracked} instance(s) or move claim(s); release them before deleting the node.`,
      {},
      options,
    );
  }
}

/** The store stayed busy; `cause` keeps the failure that exhausted the retries. */
export class Unavailable extends AppError {
  constructor(
    readonly retryAfterSeconds: number,
    options?: ErrorOptions,
  ) {
    super('Unavailable', 'The capacity store is busy; retry the request later.', {}, options);
  }
}

export class MigrationNotFound extends AppError {
  constructor(migrationId: string, options?: ErrorOptions) {
    super('MigrationNotFound', `Migration ${migrationId} is not known.`, {}, options);
  }
}

export class InvalidTransition extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super('InvalidTransition', message, {}, options);
  }
}

export class InvalidMove extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super('InvalidMove', message, {}, options);
  }
}

/** Nova's text when the scheduler finds no host (rule G6); `refusals` counts why, per resource class. */
export class NoValidHost extends AppError {
  constructor(refusals: Record<string, number>, attempts: number, options?: ErrorOptions) {
    super(
      'NoValidHost',
      'No valid host was found. There are not enough hosts available.',
      { refusals, attempts },
      options,
    );
  }
}

export class GroupPolicyViolation extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super('GroupPolicyViolation', message, {}, options);
  }
}

export class GroupInUse extends AppError {
  constructor(groupId: string, members: number, options?: ErrorOptions) {
    super(
      'GroupInUse',
      `Server group ${groupId} has ${members} member(s): its policy and rules cannot change and it cannot be deleted until they are released.`,
      {},
      options,
    );
  }
}

export class GroupNotFound extends AppError {
  constructor(groupId: string, options?: ErrorOptions) {
    super('GroupNotFound', `Server group ${groupId} is not known.`, {}, options);
  }
}

// Failures every layer may raise, each with the HTTP status and error code the contract gives it.

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = code;
  }
}

export interface Issue {
  path: string;
  message: string;
}

export class ValidationError extends AppError {
  constructor(message: string, issues: Issue[] = []) {
    super(400, 'ValidationError', message, { issues });
  }
}

export class NodeNotFound extends AppError {
  constructor(nodeId: string) {
    super(404, 'NodeNotFound', `Node ${nodeId} is not registered.`);
  }
}

export class InstanceNotFound extends AppError {
  constructor(nodeId: string, instanceUuid: string) {
    super(404, 'InstanceNotFound', `Instance ${instanceUuid} is not tracked on node ${nodeId}.`);
  }
}

export class InsufficientResources extends AppError {
  constructor(message: string, reasons: string[]) {
    super(409, 'InsufficientResources', message, { reasons });
  }
}

export class InstanceConflict extends AppError {
  constructor(message: string) {
    super(409, 'InstanceConflict', message);
  }
}

export class NodeInUse extends AppError {
  constructor(nodeId: string, tracked: number) {
    super(409, 'NodeInUse', `Node ${nodeId} still tracks ${tracked} instance(s) or move claim(s); release them before deleting the node.`);
  }
}

export class Unavailable extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super(503, 'Unavailable', 'The capacity store is busy; retry the request later.');
  }
}

export class MigrationNotFound extends AppError {
  constructor(migrationId: string) {
    super(404, 'MigrationNotFound', `Migration ${migrationId} is not known.`);
  }
}

export class InvalidTransition extends AppError {
  constructor(message: string) {
    super(409, 'InvalidTransition', message);
  }
}

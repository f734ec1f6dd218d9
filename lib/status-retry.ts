// How the migration status queue retries (rule OP1, docs/operations.md): the consumer's timeout, the queue's
// visibility timeout and its redrive count, and the bound they give. The stack (infra/status-queue.ts), the
// table of operations and the local runner's queue read them; it imports nothing.

/** A batch of up to 10 status changes, each one transaction whose retries end before the deadline. */
export const CONSUMER_TIMEOUT_SECONDS = 10;
/** AWS: the visibility timeout at least six times the consumer's timeout, so retried batches do not overlap. */
export const VISIBILITY_PER_CONSUMER_TIMEOUT = 6;
export const VISIBILITY_TIMEOUT_SECONDS = CONSUMER_TIMEOUT_SECONDS * VISIBILITY_PER_CONSUMER_TIMEOUT;
/**
 * Receives before the dead-letter queue. Only transient failures (throttling, a busy store, a crash or a
 * timeout) are retried; a message that can never apply is acknowledged at once, so this bounds only how long
 * an outage may hold an instance's statuses back before an operator is told.
 */
export const MAX_RECEIVE_COUNT = 4;

/**
 * The longest a message that keeps failing holds its group back: it is received `maxReceiveCount` times, one
 * visibility timeout apart, and then the dead-letter queue takes it (and the group's messages received with it).
 */
export const transientBoundSeconds = (visibilityTimeoutSeconds: number, maxReceiveCount: number): number =>
  visibilityTimeoutSeconds * maxReceiveCount;

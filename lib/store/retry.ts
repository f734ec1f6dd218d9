import { Unavailable } from '../errors';

export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  capMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, baseMs: 20, capMs: 1000 };

/** Thrown by an attempt that lost a race it can win by starting over (for example a record changed since it was read). */
export class Contended extends Error {
  constructor(message = 'contended') {
    super(message);
    this.name = 'Contended';
  }
}

const RETRYABLE_NAMES = new Set([
  'TransactionConflictException',
  'TransactionInProgressException',
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
]);
const RETRYABLE_REASONS = new Set(['TransactionConflict', 'ProvisionedThroughputExceeded', 'ThrottlingError']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);

interface AwsLikeError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  CancellationReasons?: { Code?: string }[];
}

/** True for failures that may succeed when tried again: conflicts, throttling, 5xx, lost connections. */
export function isTransient(error: unknown): boolean {
  if (error instanceof Contended) return true;
  const e = error as AwsLikeError;
  if (!e || typeof e !== 'object') return false;
  if (e.name === 'TransactionCanceledException') {
    return (e.CancellationReasons ?? []).some((r) => RETRYABLE_REASONS.has(r.Code ?? ''));
  }
  if (e.name && RETRYABLE_NAMES.has(e.name)) return true;
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  return (e.$metadata?.httpStatusCode ?? 0) >= 500;
}

/** Whether the failure leaves it unknown if the write happened (the request may have committed). */
export function isAmbiguous(error: unknown): boolean {
  const e = error as AwsLikeError;
  if (!e || typeof e !== 'object' || error instanceof Contended) return false;
  return e.name === 'TimeoutError' || (e.code !== undefined && NETWORK_CODES.has(e.code)) ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500;
}

export type RetryKind = 'conflict' | 'throttle' | 'other';

let observer: ((kind: RetryKind) => void) | undefined;

/** Lets the API layer count retries (as metrics) without the store knowing about metrics. */
export function observeRetries(listener: (kind: RetryKind) => void): void {
  observer = listener;
}

const CONFLICT_NAMES = new Set(['TransactionConflictException', 'TransactionInProgressException']);
const THROTTLE_NAMES = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']);

/** What kind of transient failure made the store try again. */
export function retryKind(error: unknown): RetryKind {
  if (error instanceof Contended) return 'conflict';
  const e = error as AwsLikeError;
  const reasons = (e?.CancellationReasons ?? []).map((r) => r.Code ?? '');
  if (CONFLICT_NAMES.has(e?.name ?? '') || reasons.includes('TransactionConflict')) return 'conflict';
  if (THROTTLE_NAMES.has(e?.name ?? '') || reasons.some((c) => c === 'ProvisionedThroughputExceeded' || c === 'ThrottlingError')) {
    return 'throttle';
  }
  return 'other';
}

/** A catch handler for a write: notes a failure that may have committed (see isAmbiguous), then rethrows it. */
export function noteIfAmbiguous(note: () => void): (error: unknown) => never {
  return (error) => {
    if (isAmbiguous(error)) note();
    throw error;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `attempt` until it succeeds, fails for good, or the attempts run out (then 503 Unavailable).
 * Backoff is "full jitter": a random wait up to an exponentially growing cap, so that writers that
 * collided on one node item spread out instead of colliding again in step.
 */
export async function withRetry<T>(
  attempt: (tryNumber: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  onRetry?: (error: unknown, tryNumber: number) => void,
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (n >= policy.attempts) throw new Unavailable(1);
      observer?.(retryKind(error));
      onRetry?.(error, n);
      await sleep(Math.random() * Math.min(policy.capMs, policy.baseMs * 2 ** (n - 1)));
    }
  }
}

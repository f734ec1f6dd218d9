import { Unavailable } from '../errors';

export interface Backoff {
  attempts: number;
  baseMs: number;
  capMs: number;
}

export interface RetryPolicy extends Backoff {
  /** The schedule after a conflict (another writer was first), if it differs from the one for throttling and faults. */
  conflicts?: Backoff;
}

/**
 * Throttling and faults: 8 attempts, full jitter up to 1 s, so a throttled partition cools down. Conflicts were
 * tuned under simulated contention (rule CU4, `npm run bench`): the transaction that won holds the item for about
 * one service time (~10 ms), so a claim that waits much longer than a few of those only loses again to fresh
 * claims, and with 8 attempts up to 1 s apart claims on a hot node starved into 503s. They are retried within
 * 80 ms. A retry wins the item with about the same chance whatever the claim's age, so the attempts a claim needs
 * are spread geometrically: at 64 claimers (~25 conflicts per claim on average) 100 attempts left some claims
 * without a turn (503). Hence 200: at most ~200 × 80 ms ≈ 16 s of waits, inside the API's 29 s, and the time
 * budget still bounds every request. Waits that shrink with a claim's age did not shorten the tail (CU4); a plain
 * claim that meets a conflict on its node combines instead (CU5), and these retries serve every other write.
 */
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 8,
  baseMs: 20,
  capMs: 1000,
  conflicts: { attempts: 200, baseMs: 10, capMs: 80 },
};

export type RetryKind = 'conflict' | 'throttle' | 'other';

/**
 * The time a request may still spend on DynamoDB. Every request to DynamoDB ends within `requestMs` (the
 * client's timeout), so one may start only while `requestMs` plus the reserve are left: the answer (a 503
 * at worst) then always goes out before the Lambda is cut.
 */
export interface TimeBudget {
  /** The most one DynamoDB request takes (the client's request timeout). */
  requestMs: number;
  /** What is left of the invocation, in ms; undefined outside one (no deadline). */
  remainingMs?: () => number | undefined;
}

/** Kept at the end of an invocation for the answer itself, its log line and its metrics. */
export const RESERVE_MS = 500;

/** Whether a DynamoDB request started after `waitMs` more could outlast the invocation. */
export function outOfTime(budget: TimeBudget | undefined, waitMs = 0): boolean {
  const left = budget?.remainingMs?.();
  return budget !== undefined && left !== undefined && left - waitMs < budget.requestMs + RESERVE_MS;
}

/** How a store retries: the policy, who hears of each retry (the API layer counts them as metrics), the time left. */
export interface Retrying {
  retry: { policy: RetryPolicy; onRetry?: (kind: RetryKind) => void; budget?: TimeBudget };
}

/** A request that was not sent because it could outlast the invocation: 503, the cause kept. */
export function tooLate(cause?: unknown): Unavailable {
  return new Unavailable(1, { cause: cause ?? new Error('no time left for another DynamoDB request') });
}

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
  return (
    e.name === 'TimeoutError' ||
    (e.code !== undefined && NETWORK_CODES.has(e.code)) ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500
  );
}

const CONFLICT_NAMES = new Set(['TransactionConflictException', 'TransactionInProgressException']);
const THROTTLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
]);

/** What kind of transient failure made the store try again. */
export function retryKind(error: unknown): RetryKind {
  if (error instanceof Contended) return 'conflict';
  const e = error as AwsLikeError;
  const reasons = (e?.CancellationReasons ?? []).map((r) => r.Code ?? '');
  if (CONFLICT_NAMES.has(e?.name ?? '') || reasons.includes('TransactionConflict')) return 'conflict';
  if (
    THROTTLE_NAMES.has(e?.name ?? '') ||
    reasons.some((c) => c === 'ProvisionedThroughputExceeded' || c === 'ThrottlingError')
  ) {
    return 'throttle';
  }
  return 'other';
}

/**
 * What one request's attempts know of each other. A write that failed ambiguously (timeout, 5xx, lost
 * connection) may have committed; its intent is kept, so that a later attempt that reads the result of
 * that very write can answer as if it had seen the commit (201, applied, released...).
 */
export class RetryContext<I = never> {
  tryNumber = 1;
  /** How many times a write of this request lost a device race (see DeviceCache.raced). */
  races = 0;
  private readonly ambiguous: I[] = [];

  /** The intents of this request's writes that may have committed, oldest first. */
  get intended(): readonly I[] {
    return this.ambiguous;
  }

  /** Called by the write helpers with every failure of a write: keeps its intent when it may have committed. */
  failed(error: unknown, intent: I | undefined): void {
    if (intent !== undefined && isAmbiguous(error)) this.ambiguous.push(intent);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The schedule after a failure of this kind. */
export const backoffFor = (policy: RetryPolicy, kind: RetryKind): Backoff =>
  kind === 'conflict' && policy.conflicts ? policy.conflicts : policy;

/** The cap of the random wait before attempt `n + 1` ("full jitter" backoff). */
export const backoffCapMs = (backoff: Backoff, n: number) => Math.min(backoff.capMs, backoff.baseMs * 2 ** (n - 1));

/**
 * The error of a request whose attempts (or time) ran out keeps the failure that exhausted them, and asks
 * the client to wait what the store would have waited next (whole seconds, at least 1).
 */
const exhausted = (error: unknown, backoff: Backoff, n: number) =>
  new Unavailable(Math.max(1, Math.ceil(backoffCapMs(backoff, n) / 1000)), { cause: error });

/**
 * Runs `attempt` until it succeeds, fails for good, or the attempts or the invocation's time run out
 * (then 503 Unavailable). Backoff is "full jitter": a random wait up to an exponentially growing cap, so
 * that writers that collided on one node item spread out instead of colliding again in step.
 */
export async function withRetry<T, I = never>(
  store: Retrying,
  attempt: (context: RetryContext<I>) => Promise<T>,
): Promise<T> {
  const { policy, onRetry, budget } = store.retry;
  const context = new RetryContext<I>();
  for (let n = 1; ; n++) {
    context.tryNumber = n;
    try {
      return await attempt(context);
    } catch (error) {
      if (!isTransient(error)) throw error;
      const kind = retryKind(error);
      const backoff = backoffFor(policy, kind);
      if (n >= backoff.attempts) throw exhausted(error, backoff, n);
      const wait = Math.random() * backoffCapMs(backoff, n);
      // No attempt after the wait could end in time: answer now rather than be cut by the Lambda.
      if (outOfTime(budget, wait)) throw exhausted(error, backoff, n);
      onRetry?.(kind);
      await sleep(wait);
    }
  }
}

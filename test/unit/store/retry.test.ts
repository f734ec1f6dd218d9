// The retry policy: what it retries, what it tells the hooks, what it keeps when it gives up, and the
// "my earlier write" checks each operation makes with the intents the context kept.
import type { InstanceRecord, Migration } from '../../../lib/domain';
import { claimedByMe } from '../../../lib/store/claim';
import { releasedByMe } from '../../../lib/store/instances';
import { appliedByMe } from '../../../lib/store/migration-status';
import { movedByMe } from '../../../lib/store/move-claim';
import { registeredByMe } from '../../../lib/store/nodes';
import {
  backoffCapMs,
  Contended,
  backoffFor,
  DEFAULT_RETRY,
  RetryContext,
  withRetry,
  type RetryKind,
} from '../../../lib/store/retry';
import { Unavailable } from '../../../lib/errors';
import { cancelled, OK } from './fixtures';

const policy = { attempts: 3, baseMs: 0, capMs: 0 };
const throttled = () => Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
const lost = () => Object.assign(new Error('reset'), { code: 'ECONNRESET' });

describe('withRetry', () => {
  it('retries transient failures, telling onRetry their kind, and shares one context across attempts', async () => {
    const kinds: RetryKind[] = [];
    const contexts = new Set<RetryContext<string>>();
    const failures = [new Contended(), throttled()];
    const result = await withRetry<string, string>(
      { retry: { policy, onRetry: (k) => kinds.push(k) } },
      async (context) => {
        contexts.add(context);
        const failure = failures.shift();
        if (failure) throw failure;
        return `done on try ${context.tryNumber}`;
      },
    );
    expect(result).toBe('done on try 3');
    expect(kinds).toEqual(['conflict', 'throttle']);
    expect(contexts.size).toBe(1);
  });

  it('throws a lasting failure at once', async () => {
    const attempt = jest.fn(async () => {
      throw new Error('bad input');
    });
    await expect(withRetry({ retry: { policy } }, attempt)).rejects.toThrow('bad input');
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it('gives up with Unavailable, keeping the failure that exhausted the attempts as its cause', async () => {
    let last: Error | undefined;
    const error = await withRetry({ retry: { policy } }, async () => {
      last = cancelled(OK, { Code: 'TransactionConflict' });
      throw last;
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Unavailable);
    expect((error as Error).cause).toBe(last);
    // Nothing was waited here: the client is asked for the least a Retry-After says.
    expect((error as Unavailable).retryAfterSeconds).toBe(1);
  });

  it('asks the client to wait what the store would have waited next (Retry-After), in whole seconds', async () => {
    jest.useFakeTimers();
    try {
      const slow = { attempts: 3, baseMs: 1500, capMs: 10_000 };
      const failing = withRetry({ retry: { policy: slow } }, async () => {
        throw throttled();
      }).catch((e: unknown) => e);
      await jest.runAllTimersAsync();
      // After the third attempt the next wait would have been up to 1.5 s × 2² = 6 s.
      expect(((await failing) as Unavailable).retryAfterSeconds).toBe(6);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('backoff (rule CU4)', () => {
  const policy = { attempts: 4, baseMs: 10, capMs: 1000, conflicts: { attempts: 6, baseMs: 10, capMs: 30 } };

  it('grows from the base to its cap; conflicts follow their own schedule, throttling and faults the main one', () => {
    expect([1, 2, 3, 4, 8].map((n) => backoffCapMs(backoffFor(policy, 'conflict'), n))).toEqual([10, 20, 30, 30, 30]);
    expect([1, 4, 7, 8].map((n) => backoffCapMs(backoffFor(policy, 'throttle'), n))).toEqual([10, 80, 640, 1000]);
    expect(backoffFor({ attempts: 3, baseMs: 1, capMs: 5 }, 'conflict')).toEqual({ attempts: 3, baseMs: 1, capMs: 5 });
  });

  it('by default: conflicts within 80 ms, all their waits inside the API timeout; throttling up to 1 s, 8 attempts', () => {
    const conflicts = backoffFor(DEFAULT_RETRY, 'conflict');
    const caps = Array.from({ length: conflicts.attempts - 1 }, (_, i) => backoffCapMs(conflicts, i + 1));
    expect(caps.slice(0, 5)).toEqual([10, 20, 40, 80, 80]);
    // 200 attempts, so that a claim among 64 on one node still gets its turn (CU4); the longest wait in all ~16 s.
    expect(conflicts.attempts).toBe(200);
    expect(caps.reduce((a, b) => a + b, 0)).toBeLessThan(20_000);
    expect(backoffFor(DEFAULT_RETRY, 'throttle')).toMatchObject({ attempts: 8, capMs: 1000 });
  });

  it.each([
    ['conflicts', () => cancelled(OK, { Code: 'TransactionConflict' }), 6, [5, 10, 15, 15, 15]],
    ['throttling', throttled, 4, [5, 10, 20]],
  ] as const)('%s: waits drawn below the cap (full jitter), attempts by their schedule', async (_, fault, n, waits) => {
    jest.useFakeTimers();
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.5);
    const timeout = jest.spyOn(global, 'setTimeout');
    try {
      let calls = 0;
      const done = withRetry({ retry: { policy } }, async () => {
        calls++;
        throw fault();
      }).catch((e: unknown) => e);
      await jest.runAllTimersAsync();
      expect(await done).toBeInstanceOf(Unavailable);
      expect(calls).toBe(n);
      expect(timeout.mock.calls.map((c) => c[1])).toEqual(waits);
    } finally {
      random.mockRestore();
      timeout.mockRestore();
      jest.useRealTimers();
    }
  });
});

describe('RetryContext', () => {
  it('keeps the intents of ambiguous failures only: timeouts, 5xx, lost connections', () => {
    const context = new RetryContext<string>();
    context.failed(lost(), 'a');
    context.failed(throttled(), 'b');
    context.failed(new Contended(), 'c');
    context.failed(Object.assign(new Error('x'), { $metadata: { httpStatusCode: 500 } }), 'd');
    context.failed(Object.assign(new Error('x'), { name: 'TimeoutError' }), undefined);
    expect(context.intended).toEqual(['a', 'd']);
  });
});

describe('is what I read the result of my own earlier write?', () => {
  const record = { nodeId: 'n1', fingerprint: 'f1' } as InstanceRecord;
  it('claim: an own claim was made by me only if a write of mine may have committed', () => {
    expect(claimedByMe([record], { nodeId: 'n1', fingerprint: 'f1' })).toBe(true);
    expect(claimedByMe([], { nodeId: 'n1', fingerprint: 'f1' })).toBe(false);
    expect(claimedByMe([record], { nodeId: 'n2', fingerprint: 'f1' })).toBe(false);
  });
  it('move claim: the migration found has the fingerprint of my lost write', () => {
    const m = { fingerprint: 'm1' } as Migration;
    expect(movedByMe([m], m)).toBe(true);
    expect(movedByMe([], m)).toBe(false);
  });
  it('release: no record left, and a release of mine may have committed: its record answers', () => {
    const first = { ...record, version: 2 };
    const second = { ...record, version: 3 };
    expect(releasedByMe([first, second], undefined)).toBe(second);
    expect(releasedByMe([], undefined)).toBeUndefined();
    expect(releasedByMe([first], record)).toBeUndefined();
  });
  it('status change: the migration is exactly what my latest lost write made it', () => {
    const next = { version: 3, status: 'migrating', sequence: 4 } as Migration;
    expect(appliedByMe([next], { ...next })).toBe(true);
    expect(appliedByMe([next], { ...next, sequence: 5 })).toBe(false);
    expect(appliedByMe([next, { ...next, version: 4 }], next)).toBe(false);
    expect(appliedByMe([], next)).toBe(false);
  });
  it('put node: created by me when the node was absent at my first look and a write of mine may have landed', () => {
    expect(registeredByMe([{ absentAtFirstLook: true }])).toBe(true);
    expect(registeredByMe([{ absentAtFirstLook: false }])).toBe(false);
    expect(registeredByMe([])).toBe(false);
  });
});

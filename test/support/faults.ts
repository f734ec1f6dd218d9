// Fault injection for the store's DynamoDB client: errors before a request is sent, or a lost response after it committed.
import { TransactionCanceledException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import type { Store } from '../../lib/store';

export type Fault = 'conflict' | 'throttle' | 'server-error' | 'lost-response';

export interface FaultPlan {
  /** Which commands to hit, e.g. 'TransactWriteItemsCommand', or several (WRITES: whichever write the step sends). */
  command: string | readonly string[];
  fault: Fault;
  /** How many of the matching requests to hit (Infinity for all). */
  times: number;
}

/** The error DynamoDB (or the SDK) would raise for `fault`, for a request of `items` actions. */
export function failure(fault: Fault, items: number): Error {
  switch (fault) {
    case 'conflict':
      return new TransactionCanceledException({
        message: 'Transaction cancelled (injected)',
        $metadata: { httpStatusCode: 400 },
        CancellationReasons: Array.from({ length: items }, (_, i) => ({
          Code: i === 0 ? 'TransactionConflict' : 'None',
        })),
      });
    case 'throttle':
      return Object.assign(new Error('Rate exceeded (injected)'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400 },
      });
    case 'server-error':
      return Object.assign(new Error('Internal server error (injected)'), {
        name: 'InternalServerError',
        $metadata: { httpStatusCode: 500 },
      });
    case 'lost-response':
      return Object.assign(new Error('socket timed out after the request was sent (injected)'), {
        name: 'TimeoutError',
      });
  }
}

/** What a single-item write that meets a transaction in flight on its item gets. */
const singleWriteConflict = () =>
  new TransactionConflictException({
    message: 'Transaction is ongoing for the item (injected)',
    $metadata: { httpStatusCode: 400 },
  });

/** Every command that writes: a write of one item goes as its own PutItem, UpdateItem or DeleteItem (rule CU2). */
export const WRITES = [
  'TransactWriteItemsCommand',
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
] as const;

/** Installs the plan; returns a counter of the faults injected and a function that removes it. */
export function injectFaults(store: Store, plan: FaultPlan) {
  const name = `inject-${plan.fault}-${Math.random()}`;
  const state = { injected: 0, sent: 0 };
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      const hit = typeof plan.command === 'string' ? [plan.command] : plan.command;
      if (!hit.includes(String(context.commandName))) return next(args);
      state.sent++;
      if (state.injected >= plan.times) return next(args);
      state.injected++;
      const input = args.input as { TransactItems?: unknown[] };
      if (plan.fault === 'lost-response') {
        await next(args); // the write commits, then the answer is lost
        throw failure(plan.fault, 0);
      }
      if (plan.fault === 'conflict' && !input.TransactItems) throw singleWriteConflict();
      throw failure(plan.fault, input.TransactItems?.length ?? 1);
    },
    { step: 'initialize', name },
  );
  return { state, remove: () => store.client.middlewareStack.remove(name) };
}

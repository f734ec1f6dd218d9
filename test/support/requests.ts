// The DynamoDB requests a store's client sends while something runs: an SDK middleware, removed afterwards.
import type { Store } from '../../lib/store';

/** The requests `store` sends while `run` runs, by command without its `Command` suffix, in the order sent. */
export async function requestsSent(store: Store, run: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const name = `requests-${Math.random()}`;
  store.client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name },
  );
  try {
    await run();
  } finally {
    store.client.middlewareStack.remove(name);
  }
  return sent;
}

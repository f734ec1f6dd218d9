// Faults for the campaigns, on the handlers' own DynamoDB client: random DynamoDB failures on any command
// (conflicts, throttling, 500s, a response lost after the write committed), and a Lambda that dies in the
// middle of a request (the Nth DynamoDB command of the request throws, before it is sent or after it
// committed). A request is what runs inside `request()`: AsyncLocalStorage ties each command to it, so
// concurrent requests on one client each count their own commands.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Store } from '../../lib/store';
import { failure, type Fault } from './faults';

export interface ChaosOptions {
  /** Probability that a DynamoDB command meets one of the `kinds` faults. */
  rate: number;
  kinds: Fault[];
  /** Probability that a request's Lambda dies at one of its first DynamoDB commands. */
  crashRate: number;
  /** A seeded generator, so that a campaign's faults follow its seed. */
  random: () => number;
}

export type ChaosCounts = Record<Fault | 'crash-before-send' | 'crash-after-commit', number>;

/** Thrown where the Lambda "dies": not a DynamoDB error, so the store does not retry it and the request fails with 500. */
export class InjectedCrash extends Error {
  constructor(where: string) {
    super(`the Lambda died ${where} (injected)`);
    this.name = 'InjectedCrash';
  }
}

interface RequestState {
  commands: number;
  crashAt?: number;
  afterCommit: boolean;
}

export interface Chaos {
  counts: ChaosCounts;
  /**
   * Runs one request (one Lambda invocation) with its own command count and crash decision: drawn at
   * `crashRate`, or the `plan` given (die at command `crashAt`, before sending it or after it committed).
   */
  request<T>(run: () => Promise<T>, plan?: { crashAt: number; afterCommit: boolean }): Promise<T>;
  remove(): void;
}

const TRANSACTIONAL = new Set(['TransactWriteItemsCommand', 'TransactGetItemsCommand']);

export function injectChaos(store: Store, options: ChaosOptions): Chaos {
  const { rate, kinds, crashRate, random } = options;
  const counts: ChaosCounts = {
    conflict: 0,
    throttle: 0,
    'server-error': 0,
    'lost-response': 0,
    'crash-before-send': 0,
    'crash-after-commit': 0,
  };
  const requests = new AsyncLocalStorage<RequestState>();
  const name = `chaos-${Math.random()}`;
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      const state = requests.getStore();
      if (state) {
        state.commands++;
        if (state.commands === state.crashAt) {
          if (!state.afterCommit) {
            counts['crash-before-send']++;
            throw new InjectedCrash(`before DynamoDB command ${state.commands} (${context.commandName})`);
          }
          await next(args);
          counts['crash-after-commit']++;
          throw new InjectedCrash(`after DynamoDB command ${state.commands} (${context.commandName}) succeeded`);
        }
      }
      if (rate > 0 && random() < rate) {
        // A conflict only exists for transactions.
        const usable = kinds.filter((k) => k !== 'conflict' || TRANSACTIONAL.has(context.commandName ?? ''));
        const fault = usable[Math.floor(random() * usable.length)];
        if (fault) {
          counts[fault]++;
          if (fault === 'lost-response') {
            await next(args);
            throw failure(fault, 0);
          }
          throw failure(fault, (args.input as { TransactItems?: unknown[] }).TransactItems?.length ?? 1);
        }
      }
      return next(args);
    },
    { step: 'initialize', name },
  );
  return {
    counts,
    request: (run, plan) => {
      const crash = plan === undefined && crashRate > 0 && random() < crashRate;
      const state: RequestState = plan
        ? { commands: 0, ...plan }
        : crash
          ? { commands: 0, crashAt: 1 + Math.floor(random() * 3), afterCommit: random() < 0.5 }
          : { commands: 0, afterCommit: false };
      return requests.run(state, run);
    },
    remove: () => {
      store.client.middlewareStack.remove(name);
      // An AsyncLocalStorage that has run stays enabled until disabled, and on Node 20 every enabled one costs every
      // new promise a step: a campaign that injects its faults step by step slowed fivefold within 40 seeds.
      requests.disable();
    },
  };
}

/** No faults: requests run as they are. */
export const NO_CHAOS: Chaos = {
  counts: {
    conflict: 0,
    throttle: 0,
    'server-error': 0,
    'lost-response': 0,
    'crash-before-send': 0,
    'crash-after-commit': 0,
  },
  request: (run) => run(),
  remove: () => {},
};

/** A small seeded generator (mulberry32): the same seed gives the same faults and choices. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A request as the campaigns' clients send it: to one of several Lambda containers picked at random, inside the
// chaos's request (its faults and crashes), and sent again as it was when answered 5xx.
import { inContainer, type Runtime } from '../../lib/api/runtime';
import { api, type Reply } from './api';
import type { Chaos } from './chaos';

const MAX_SENDS = 12;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Sender {
  containers: Runtime[];
  /** The seeded draws: the container of each send, then the pause before the next. */
  random: () => number;
  chaos: Chaos;
  /** Called before each send, and before each send again after a 5xx. */
  onSend?: () => void;
  onResend?: () => void;
}

/** Sends until the answer is not a 5xx, or 12 times; the answer and how many sends it took. */
export async function sendAsClient(
  sender: Sender,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ reply: Reply; attempts: number }> {
  const { containers, random, chaos } = sender;
  for (let attempts = 1; ; attempts++) {
    sender.onSend?.();
    const container = containers[Math.floor(random() * containers.length)] as Runtime;
    const reply = await chaos.request(() => inContainer(container, () => api(method, path, body, headers)));
    if (reply.status < 500 || attempts >= MAX_SENDS) return { reply, attempts };
    sender.onResend?.();
    await sleep(5 + random() * 20);
  }
}

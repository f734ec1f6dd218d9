// A TCP proxy in front of the run's DynamoDB Local that can stall: while stalled, what clients send is held
// (as a SIGSTOPped DynamoDB would leave it unread) and reaches DynamoDB Local when the stall ends, even for
// clients that gave up meanwhile, so a timed-out write still lands late. The shared DynamoDB Local itself
// never stops, so the other test files of the run are not held up.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface StallProxy {
  url: string;
  stall(): void;
  /** Lets everything held through, in the order it was sent. */
  resume(): void;
  close(): Promise<void>;
}

export async function stallProxy(target: string): Promise<StallProxy> {
  const { hostname, port } = new URL(target);
  let stalled = false;
  const flushes = new Set<() => void>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    const held: Buffer[] = [];
    let clientGone = false;
    client.on('data', (chunk: Buffer) => (stalled ? held.push(chunk) : upstream.write(chunk)));
    // A client that timed out closes its socket; what it sent still goes through, and DynamoDB Local's
    // answer (to nobody) ends the connection.
    upstream.on('data', (chunk: Buffer) => (clientGone ? upstream.end() : client.write(chunk)));
    client.on('close', () => {
      clientGone = true;
      if (held.length === 0) upstream.end();
    });
    upstream.on('close', () => client.destroy());
    for (const s of [client, upstream]) s.on('error', () => s.destroy());
    const flush = () => {
      for (const chunk of held.splice(0)) upstream.write(chunk);
    };
    flushes.add(flush);
    upstream.on('close', () => flushes.delete(flush));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${own}`,
    stall: () => {
      stalled = true;
    },
    resume: () => {
      stalled = false;
      for (const flush of flushes) flush();
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

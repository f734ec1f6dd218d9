// The generic queue with a consumer of its own: no DynamoDB, no product.
import type { SQSEvent } from 'aws-lambda';
import { lambdaContext } from '../../../local/events';
import { createFifoQueue, type QueueHandler } from '../../../local/fifo-queue';

const context = () => lambdaContext('consumer');

test('a group is delivered in order, duplicates are dropped, a failed message comes back and then dead-letters', async () => {
  const seen: string[] = [];
  const handler: QueueHandler = async (event: SQSEvent) => {
    seen.push(...event.Records.map((r) => r.body));
    return {
      batchItemFailures: event.Records.filter((r) => r.body === 'poison').map((r) => ({ itemIdentifier: r.messageId })),
    };
  };
  const queue = createFifoQueue({
    handler,
    name: 'test.fifo',
    context,
    visibilityTimeoutMs: 20,
    maxReceiveCount: 2,
    pollMs: 5,
  });
  expect(queue.send({ body: 'a', groupId: 'g' }).duplicate).toBe(false);
  expect(queue.send({ body: 'a', groupId: 'g' }).duplicate).toBe(true);
  queue.send({ body: 'poison', groupId: 'h' });
  queue.send({ body: 'b', groupId: 'g' });
  expect(await queue.drain(5_000)).toBe(true);
  expect(seen.filter((b) => b !== 'poison')).toEqual(['a', 'b']);
  expect(seen.filter((b) => b === 'poison')).toHaveLength(2);
  expect(queue.stats()).toMatchObject({ messages: 0, sent: 3, duplicates: 1, deleted: 2, failed: 2, deadLetters: 1 });
  expect(queue.deadLetters()).toMatchObject([{ body: 'poison', groupId: 'h', receiveCount: 2 }]);
  await queue.close();
  expect(() => queue.send({ body: 'late', groupId: 'g' })).toThrow('queue test.fifo is closed');
});

test('an invocation that throws fails its whole batch; bad sends are refused', async () => {
  let calls = 0;
  const handler: QueueHandler = async () => {
    if (++calls === 1) throw new Error('cold start failed');
  };
  const queue = createFifoQueue({ handler, name: 'test.fifo', context, visibilityTimeoutMs: 10, pollMs: 5 });
  expect(() => queue.send({ body: 'x', groupId: '' })).toThrow('MessageGroupId must be 1 to 128 characters');
  expect(() => queue.send({ body: 'x'.repeat(256 * 1024 + 1), groupId: 'g' })).toThrow(
    'a message body is at most 262144 bytes',
  );
  queue.send({ body: 'x', groupId: 'g' });
  expect(await queue.drain(5_000)).toBe(true);
  expect(queue.stats()).toMatchObject({ invocations: 2, invocationErrors: 1, received: 2, deleted: 1, failed: 1 });
  await queue.close();
  expect(() => createFifoQueue({ handler, name: 'q.fifo', context, batchSize: 11 })).toThrow('batches of 1 to 10');
});

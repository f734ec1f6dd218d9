// Moved to local/ (fifo-queue.ts, migration-status-queue.ts, events.ts); kept so that code not yet
// switched to the new paths (test/integration, test/model) still builds. Import from local/ instead.
export { sqsRecord } from '../local/events';
export { createFifoQueue, type DeadLetter, type LocalQueue, type QueueHandler, type QueueStats, type SendRequest, type SendResult } from '../local/fifo-queue';
export { createLocalQueue, localQueueRoutes, MIGRATION_STATUS_PATH, type LocalQueueOptions } from '../local/migration-status-queue';

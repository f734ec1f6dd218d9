export * from './client';
export * from './table';
export * from './nodes';
export * from './instances';
export { withRetry, isTransient, Contended, DEFAULT_RETRY, type RetryPolicy } from './retry';
export * from './migrations';
export * from './devices';
export * from './audit';

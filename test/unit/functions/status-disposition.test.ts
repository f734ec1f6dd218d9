// Rule OP1: which failures of a status message are retried by the queue and which reject it at once.
import { dispositionOf } from '../../../functions/migration-status-queue';
import {
  AppError,
  ERROR_CODES,
  InvalidTransition,
  MigrationNotFound,
  Unavailable,
  ValidationError,
  type ErrorCode,
} from '../../../lib/errors';

test.each([
  ['a body that does not fit the schema', 'reject', new ValidationError('Invalid body')],
  ['a migration never claimed', 'reject', new MigrationNotFound('m1')],
  ['a status the move cannot take', 'reject', new InvalidTransition('A resize has no status done.')],
  ['the store busy past the retries', 'retry', new Unavailable(1)],
  ['a crash or a timeout', 'retry', new Error('socket hang up')],
  ['anything thrown that is not an Error', 'retry', 'oops'],
])('%s: %s', (_what, disposition, error) => {
  expect(dispositionOf(error)).toBe(disposition);
});

test('only the never-applicable codes reject; every other code is retried', () => {
  const rejected = (Object.keys(ERROR_CODES) as ErrorCode[]).filter(
    (code) => dispositionOf(new AppError(code, code)) === 'reject',
  );
  expect(rejected.sort()).toEqual(['Forbidden', 'InvalidTransition', 'MigrationNotFound', 'ValidationError']);
});

// The table of operations is consistent with itself and with the files it names.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isErrorCode } from '../../../lib/errors';
import { lambdaEntries, OPERATION_LIST, ROUTES } from '../../../lib/operations';

const ROOT = join(__dirname, '..', '..', '..');
const unique = (xs: string[]) => new Set(xs).size === xs.length;

describe('the table of operations', () => {
  it('names each operation, route and Lambda once', () => {
    expect(unique(OPERATION_LIST.map((op) => op.name))).toBe(true);
    expect(unique(ROUTES.map((r) => `${r.method} ${r.path}`))).toBe(true);
    expect(lambdaEntries()).toHaveLength(OPERATION_LIST.length);
  });

  it.each(OPERATION_LIST.map((op) => [op.id, op] as const))(
    '%s: its entry exists, and its errors are codes',
    (_id, op) => {
      expect(existsSync(join(ROOT, 'functions', `${op.entry}.ts`))).toBe(true);
      expect(op.errors.filter((code) => !isErrorCode(code))).toEqual([]);
    },
  );

  it.each(ROUTES.map((r) => [r.entry, r] as const))('%s: the handler takes its name from the table', (entry, route) => {
    const source = readFileSync(join(ROOT, 'functions', `${entry}.ts`), 'utf8');
    expect(source).toContain(`httpHandler(OPERATIONS.${route.id},`);
  });
});

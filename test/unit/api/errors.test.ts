// The errors carry data and causes, no HTTP; the edge gives each code its status, and the answers are the
// contract's, byte for byte.
import { errorResult } from '../../../lib/api/http';
import { HTTP_STATUS, INTERNAL_ERROR } from '../../../lib/api/error-status';
import {
  AppError,
  Forbidden,
  ERROR_CODES,
  GroupInUse,
  GroupNotFound,
  GroupPolicyViolation,
  InstanceConflict,
  InstanceNotFound,
  InsufficientResources,
  InvalidMove,
  InvalidTransition,
  isErrorCode,
  MigrationNotFound,
  NodeInUse,
  NoValidHost,
  NodeNotFound,
  Unavailable,
  ValidationError,
} from '../../../lib/errors';
import { logger } from '../../../lib/api/logger';

const cause = new Error('the last TransactionCanceledException');

/** One of each class, built with a cause, and the answer the contract gives it. */
const CASES: Array<[AppError, number, string]> = [
  [
    new ValidationError('Invalid body: flavor: Required.', [{ path: 'flavor', message: 'Required' }], { cause }),
    400,
    '{"error":"ValidationError","message":"Invalid body: flavor: Required.","issues":[{"path":"flavor","message":"Required"}]}',
  ],
  [
    new Forbidden('The agent of node n1 may not act on node n2.', { cause }),
    403,
    '{"error":"Forbidden","message":"The agent of node n1 may not act on node n2."}',
  ],
  [new NodeNotFound('n1', { cause }), 404, '{"error":"NodeNotFound","message":"Node n1 is not registered."}'],
  [
    new InstanceNotFound('n1', 'u1', { cause }),
    404,
    '{"error":"InstanceNotFound","message":"Instance u1 is not tracked on node n1."}',
  ],
  [new MigrationNotFound('m1', { cause }), 404, '{"error":"MigrationNotFound","message":"Migration m1 is not known."}'],
  [
    new InsufficientResources('Claim failed.', ['Free memory 0 MB < requested 512 MB'], { cause }),
    409,
    '{"error":"InsufficientResources","message":"Claim failed.","reasons":["Free memory 0 MB < requested 512 MB"]}',
  ],
  [
    new InstanceConflict('Instance u1 is already claimed.', { cause }),
    409,
    '{"error":"InstanceConflict","message":"Instance u1 is already claimed."}',
  ],
  [
    new InvalidTransition('done is not a status.', { cause }),
    409,
    '{"error":"InvalidTransition","message":"done is not a status."}',
  ],
  [
    new InvalidMove('Instance u1 is already on node n1.', { cause }),
    409,
    '{"error":"InvalidMove","message":"Instance u1 is already on node n1."}',
  ],
  [
    new NodeInUse('n1', 2, { cause }),
    409,
    '{"error":"NodeInUse","message":"Node n1 still tracks 2 instance(s) or move claim(s); release them before deleting the node."}',
  ],
  [
    new NoValidHost({ VCPU: 3, TRAITS: 1 }, 2, { cause }),
    409,
    '{"error":"NoValidHost","message":"No valid host was found. There are not enough hosts available.","refusals":{"VCPU":3,"TRAITS":1},"attempts":2}',
  ],
  [
    new GroupPolicyViolation('Server group g has policy affinity: its members are on node a, not on node b.', {
      cause,
    }),
    409,
    '{"error":"GroupPolicyViolation","message":"Server group g has policy affinity: its members are on node a, not on node b."}',
  ],
  [
    new GroupInUse('g', 1, { cause }),
    409,
    '{"error":"GroupInUse","message":"Server group g has 1 member(s): its policy and rules cannot change and it cannot be deleted until they are released."}',
  ],
  [new GroupNotFound('g', { cause }), 404, '{"error":"GroupNotFound","message":"Server group g is not known."}'],
  [
    new Unavailable(3, { cause }),
    503,
    '{"error":"Unavailable","message":"The capacity store is busy; retry the request later."}',
  ],
];

beforeAll(() => {
  // The 5xx answers log; the test reads the answers, not the log.
  jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
  jest.spyOn(logger, 'error').mockImplementation(() => undefined);
});
afterAll(() => jest.restoreAllMocks());

describe('error codes', () => {
  it('each has a status at the edge, a 4xx or 5xx, and nothing else has one', () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const status of Object.values(HTTP_STATUS)) expect(status).toBeGreaterThanOrEqual(400);
  });

  it('each has a class, and every class is named after its code', () => {
    expect(CASES.map(([e]) => e.code).sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const [error] of CASES) {
      expect(error.name).toBe(error.code);
      expect(isErrorCode(error.code)).toBe(true);
    }
    expect(isErrorCode('InternalError')).toBe(false);
  });

  it('carry no HTTP in themselves', () => {
    for (const [error] of CASES) expect(Object.keys(error)).not.toContain('statusCode');
  });
});

describe('an error answer', () => {
  it.each(CASES)('%s: its status and the contract body', (error, status, body) => {
    const answer = errorResult(error);
    expect(answer.statusCode).toBe(status);
    expect(HTTP_STATUS[error.code]).toBe(status);
    expect(answer.body).toBe(body);
    expect(answer.headers).toEqual({
      'content-type': 'application/json',
      ...(status === 503 ? { 'retry-after': '3' } : {}),
    });
  });

  it('is a 500 InternalError for any other failure, without its message', () => {
    const answer = errorResult(new TypeError('x is undefined'));
    expect(answer.statusCode).toBe(INTERNAL_ERROR.status);
    expect(answer.body).toBe(
      '{"error":"InternalError","message":"The request failed unexpectedly; it may be retried."}',
    );
  });
});

describe('a cause', () => {
  it.each(CASES)('%s keeps the failure that led to it', (error) => {
    expect(error.cause).toBe(cause);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toBeInstanceOf(Error);
  });

  it('is absent when none is given, and the constructor arguments stay as they were', () => {
    const error = new Unavailable(1);
    expect(error.cause).toBeUndefined();
    expect('cause' in error).toBe(false);
    expect(error.retryAfterSeconds).toBe(1);
    expect(new ValidationError('Invalid query.').details).toEqual({ issues: [] });
  });
});

import { ServiceError } from '@temporalio/client';
import { errorResponse } from '../../api/errors';
import { isDatabaseUnavailable } from '../../db/pool';

/**
 * The one error mapping (api/errors.ts): what means "a dependency is away" is 503 unavailable
 * with Retry-After; everything else keeps its own status (an unexpected error stays a 500, so
 * a real bug is not hidden as "try again").
 */
const withCode = (code: string | number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`failure ${code}`), { code, ...extra });

/** A gRPC error as the Temporal client surfaces it: wrapped in the client's ServiceError. */
const grpc = (code: number) =>
  new ServiceError('Failed to start Workflow', { cause: withCode(code, { details: 'x', metadata: {} }) });

const answer = (error: unknown) => {
  const { status, body, headers } = errorResponse(error, () => {});
  return { status, code: body.error.code, retryAfter: headers['retry-after'], message: body.error.message };
};

test.each([
  ['a refused connection', withCode('ECONNREFUSED')],
  ['a connect that timed out', withCode('CONNECT_TIMEOUT')],
  ['a connection closed under a query', withCode('CONNECTION_CLOSED')],
  ['a server shutting down (57P01)', withCode('57P01')],
  ['a server starting up (57P03)', withCode('57P03')],
  ['no connection slots left (53300)', withCode('53300')],
  ['a connection exception (08006)', withCode('08006')],
  ['one of those wrapped as a cause', new Error('wrapped', { cause: withCode('ECONNRESET') })],
])('when Postgres fails with %s, then the answer is 503 unavailable naming Postgres', (_what, error) => {
  expect(isDatabaseUnavailable(error)).toBe(true);
  expect(answer(error)).toEqual({
    status: 503,
    code: 'unavailable',
    retryAfter: '5',
    message: expect.stringContaining('Postgres'),
  });
});

test.each([
  ['UNAVAILABLE', 14],
  ['DEADLINE_EXCEEDED', 4],
])(
  'when a Temporal call fails with %s, then the answer is 503 unavailable naming Temporal',
  (_what, code) => {
    expect(answer(grpc(code))).toEqual({
      status: 503,
      code: 'unavailable',
      retryAfter: '5',
      message: expect.stringContaining('Temporal'),
    });
  },
);

test.each([
  ['a unique violation (23505)', withCode('23505')],
  ['a check violation (23514)', withCode('23514')],
  ['a Temporal INVALID_ARGUMENT', grpc(3)],
  ['a plain bug', new TypeError('x is undefined')],
])('when the failure is %s, then it is not "unavailable" (a 500, logged)', (_what, error) => {
  const logged: unknown[] = [];
  const { status, headers } = errorResponse(error, (_m, e) => logged.push(e));
  expect({ status, headers, logged }).toEqual({ status: 500, headers: {}, logged: [error] });
});

import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { z } from 'zod';
import { DomainError, ValidationError } from '../domain';

/** Domain error codes to HTTP statuses: the one place this mapping lives. */
const STATUS: Record<string, number> = {
  validation_error: 400,
  unauthorized: 401,
  insufficient_credits: 402,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  idempotency_conflict: 409,
  hold_not_pending: 409,
};

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** Parses `input` with `schema`; a failure is a ValidationError naming the first bad field. */
export function parse<T extends z.ZodType>(schema: T, input: unknown, where = 'body'): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const field = [...issue.path, ...keys].map(String).join('.') || where;
  const message = issue.code === 'unrecognized_keys' ? 'is not a known field' : issue.message;
  throw new ValidationError(field, message);
}

export const notFoundRoute: RequestHandler = (req, res) => {
  res.status(404).json(errorBody('not_found', `no route for ${req.method} ${req.path}`));
};

/** The status and body for any error: the one mapping both the Express app and the fast path use. */
export function errorResponse(
  error: unknown,
  log: (message: string, error: unknown) => void,
): { status: number; body: ReturnType<typeof errorBody> } {
  if (error instanceof DomainError) {
    return { status: STATUS[error.code] ?? 400, body: errorBody(error.code, error.message) };
  }
  // body-parser's own errors carry a status and a type.
  const status = (error as { status?: number }).status;
  const type = (error as { type?: string }).type;
  if (type === 'entity.parse.failed')
    return { status: 400, body: errorBody('invalid_json', 'body: is not valid JSON') };
  if (type === 'entity.too.large') {
    return { status: 413, body: errorBody('payload_too_large', 'body: is larger than 100kb') };
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, body: errorBody('bad_request', (error as Error).message) };
  }
  log('unhandled error', error);
  return { status: 500, body: errorBody('internal', 'internal error') };
}

export function errorHandler(log: (message: string, error: unknown) => void): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    const { status, body } = errorResponse(error, log);
    res.status(status).json(body);
  };
}

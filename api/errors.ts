import { isGrpcServiceError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { z } from 'zod';
import { isDatabaseUnavailable } from '../db/pool';
import { DomainError, ValidationError } from '../domain';
import { MAX_JSON_BODY_TEXT } from './body-limit';

/** Domain error codes to HTTP statuses: the one place this mapping lives. */
const STATUS: Record<string, number> = {
  validation_error: 400,
  unauthorized: 401,
  insufficient_credits: 402,
  insufficient_withdrawable: 402,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  idempotency_conflict: 409,
  hold_not_pending: 409,
  payout_account_required: 409,
  /** An agent runtime reported on a task attempt that has ended (app/executor-callbacks.ts). */
  attempt_closed: 409,
  unsupported_media_type: 415,
};

/**
 * A body the route cannot read: not JSON, or in a charset or content encoding the parser does not
 * know. An HTTP matter, not a domain one, so it lives here rather than in domain/errors.ts.
 */
export class UnsupportedMediaType extends DomainError {
  readonly code = 'unsupported_media_type';
}

/** The HTTP status of a domain error (pages answer with it too). */
export function statusOf(error: DomainError): number {
  return STATUS[error.code] ?? 400;
}

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** What a 503 asks the client to wait before trying again: about what a Postgres restart takes. */
export const RETRY_AFTER_SECONDS = 5;

/** An error answer: status, body, and the headers it needs (Retry-After on a 503). */
export interface ErrorAnswer {
  status: number;
  body: ReturnType<typeof errorBody>;
  headers: Record<string, string>;
}

/** 503 `unavailable`: `what` could not be reached; the same request can succeed later. */
export function unavailable(what: string): ErrorAnswer {
  return {
    status: 503,
    body: errorBody('unavailable', `${what} is unavailable; try again in ${RETRY_AFTER_SECONDS} s`),
    headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
  };
}

/** gRPC statuses that mean Temporal did not answer: UNAVAILABLE (14), DEADLINE_EXCEEDED (4). */
const TEMPORAL_UNAVAILABLE = new Set([14, 4]);

/** True when `error` or an error it wraps (the client's ServiceError wraps the gRPC one) is one of them. */
function isTemporalUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (isGrpcServiceError(current) && TEMPORAL_UNAVAILABLE.has(current.code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The longest unknown key a message repeats: a client may send any key, of any length. */
const UNKNOWN_KEY_SHOWN = 64;

/**
 * Parses `input` with `schema`; a failure is a ValidationError naming the first bad field. Of
 * several unknown keys on one object, the first is named (cut to UNKNOWN_KEY_SHOWN characters)
 * and the others counted: they are siblings, not a path.
 */
export function parse<T extends z.ZodType>(schema: T, input: unknown, where = 'body'): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const first = issue.keys[0] ?? '';
    const shown = first.length > UNKNOWN_KEY_SHOWN ? `${first.slice(0, UNKNOWN_KEY_SHOWN)}…` : first;
    const others = issue.keys.length - 1;
    throw new ValidationError(
      [...issue.path.map(String), shown].join('.'),
      `is not a known field${others > 0 ? ` (nor ${others === 1 ? 'is 1 other' : `are ${others} others`})` : ''}`,
    );
  }
  throw new ValidationError(issue.path.map(String).join('.') || where, issue.message);
}

export const notFoundRoute: RequestHandler = (req, res) => {
  res.status(404).json(errorBody('not_found', `no route for ${req.method} ${req.path}`));
};

/**
 * What a body that is not JSON (its bytes not UTF-8 included: api/json-body.ts), or JSON but not
 * an object or array (`null`, `"x"`, `1`: a strict parser's refusal), is told: all miss the same
 * thing.
 */
export const INVALID_JSON_MESSAGE = 'body: must be a JSON object, in UTF-8';

/**
 * The status, body and headers for any error: the one mapping both the Express app and the fast
 * path use. A dependency that cannot be reached is a 503 with Retry-After, never a 500: the
 * request was fine and will succeed once Postgres or Temporal is back.
 */
export function errorResponse(error: unknown, log: (message: string, error: unknown) => void): ErrorAnswer {
  const answer = (status: number, code: string, message: string): ErrorAnswer => ({
    status,
    body: errorBody(code, message),
    headers: {},
  });
  if (error instanceof DomainError) return answer(statusOf(error), error.code, error.message);
  if (isDatabaseUnavailable(error)) return unavailable('Postgres');
  if (isTemporalUnavailable(error)) return unavailable('Temporal');
  // body-parser's own errors carry a status and a type.
  const status = (error as { status?: number }).status;
  const type = (error as { type?: string }).type;
  if (type === 'entity.parse.failed') return answer(400, 'invalid_json', INVALID_JSON_MESSAGE);
  if (type === 'entity.too.large')
    return answer(413, 'payload_too_large', `body: is larger than ${MAX_JSON_BODY_TEXT}`);
  if (type === 'charset.unsupported')
    return answer(415, 'unsupported_media_type', `Content-Type: ${(error as Error).message}`);
  if (type === 'encoding.unsupported')
    return answer(415, 'unsupported_media_type', `Content-Encoding: ${(error as Error).message}`);
  // The router could not percent-decode a path parameter (`/v1/withdrawals/%ff`); it does not
  // say which one, so the path is named.
  if (error instanceof URIError && status === 400)
    return answer(400, 'validation_error', 'path: a parameter is not valid percent-encoding (UTF-8)');
  // zlib could not inflate a body its Content-Encoding named (a plain body sent as gzip).
  if (
    typeof (error as { errno?: unknown }).errno === 'number' &&
    /^Z_/.test(String((error as { code?: unknown }).code))
  )
    return answer(400, 'validation_error', 'Content-Encoding: the body is not in the encoding it names');
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return answer(status, 'bad_request', (error as Error).message);
  }
  log('unhandled error', error);
  return answer(500, 'internal', 'internal error');
}

export function errorHandler(log: (message: string, error: unknown) => void): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    const { status, body, headers } = errorResponse(error, log);
    // The answer has begun (an event stream whose next read failed): end it; the client's
    // EventSource reconnects and then gets the status.
    if (res.headersSent) {
      if (!res.writableEnded) res.end();
      return;
    }
    res.set(headers).status(status).json(body);
  };
}

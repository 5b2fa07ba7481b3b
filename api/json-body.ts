import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import express, { type RequestHandler } from 'express';
import { MAX_JSON_BODY_BYTES } from './body-limit';
import { UnsupportedMediaType } from './errors';

/** What a request whose body is not JSON is told (the API's routes read JSON only). */
const NOT_JSON = 'Content-Type: the body must be JSON (application/json)';

/**
 * A JSON body in bytes that are not UTF-8 is not JSON (RFC 8259); decoded as it is, each bad byte
 * would silently become U+FFFD in what is stored. Refused as body-parser refuses malformed JSON
 * (its `entity.parse.failed`, answered by errorResponse), so both say the same. Other charsets
 * body-parser accepts (UTF-16, UTF-32) are its own to decode.
 */
function refuseBadUtf8(_req: IncomingMessage, _res: unknown, body: Buffer, encoding: string): void {
  if (encoding.toLowerCase() === 'utf-8' && !isUtf8(body))
    throw Object.assign(new Error('body: is not UTF-8'), { status: 400, type: 'entity.parse.failed' });
}

/** The API's JSON parser: strict (an object or array), at most MAX_JSON_BODY_BYTES, UTF-8 checked. */
export function jsonBodyParser(): RequestHandler {
  return express.json({ limit: MAX_JSON_BODY_BYTES, strict: true, verify: refuseBadUtf8 });
}

/** Whether a request carries a body at all (chunked, or a non-zero Content-Length). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * After the JSON parser, for the API's own routes (`/v1/…`; Stripe's webhook reads its raw body
 * before): a request that carries a body the parser did not read (another Content-Type, or none)
 * is a 415, not a request without a body, which a route would take as "no fields" and answer.
 */
export function refuseBodiesThatAreNotJson(): RequestHandler {
  return (req, _res, next) => {
    if (req.body === undefined && req.path.startsWith('/v1/') && hasBody(req))
      next(new UnsupportedMediaType(NOT_JSON));
    else next();
  };
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UsageCharger } from '../app';
import type { Sql } from '../db/pool';
import { requestContext } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { bearer, userForApiKey } from './auth';
import { MAX_JSON_BODY_BYTES } from './body-limit';
import { errorBody, errorResponse, INVALID_JSON_MESSAGE } from './errors';
import { answerUsage } from './routes/usage';

const ROUTE = '/v1/usage';

export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * The content types the fast path reads: exactly the two forms clients send, both of which
 * express.json reads as UTF-8 JSON. Anything else (another charset, which express.json refuses
 * with 415; parameters or spacing its content-type parser reads differently) goes to Express,
 * so the answer is Express's own.
 */
const PLAIN_JSON = /^application\/json(?:; ?charset=utf-8)?$/i;

/**
 * Calls `then` with the request's whole body as UTF-8 text (null when its bytes are not UTF-8,
 * which the JSON parser refuses too: api/json-body.ts), once it has arrived, in the caller's
 * async context (as express.json does): the socket's events would otherwise lose the request's
 * context, and with it the request id of the lines logged while serving it.
 */
export function onBody(req: IncomingMessage, then: (text: string | null) => void): void {
  const chunks: Buffer[] = [];
  const inContext = AsyncLocalStorage.snapshot();
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    inContext(then, isUtf8(body) ? body.toString('utf8') : null);
  });
}

/** Answers `body` as JSON with its length (what Express's res.json sends, without Express). */
export function writeJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** body-parser's whitespace before the first JSON character (only these four). */
const FIRST_CHARACTER = /^[ \t\n\r]*([^ \t\n\r]|$)/;

/**
 * A JSON body read exactly as express.json({ strict: true }) reads it (body-parser 2): UTF-8
 * with one leading byte-order mark dropped, empty is {}, only an object or array may follow
 * its whitespace; undefined for what it answers "invalid JSON". The property test in
 * test/api/usage-paths-property.test.ts holds the two to the same answers.
 */
export function readJsonLikeExpress(utf8: string): object | undefined {
  const text = utf8.charCodeAt(0) === 0xfeff ? utf8.slice(1) : utf8;
  if (text.length === 0) return {};
  const first = FIRST_CHARACTER.exec(text)?.[1];
  if (first !== '{' && first !== '[') return undefined;
  try {
    return JSON.parse(text) as object;
  } catch {
    return undefined;
  }
}

/** Whether the fast path can read this request as Express would; if not, Express serves it. */
function servable(req: IncomingMessage): boolean {
  const length = Number(req.headers['content-length']);
  return (
    req.method === 'POST' &&
    req.url === ROUTE &&
    PLAIN_JSON.test(req.headers['content-type'] ?? '') &&
    // express.json inflates gzip and friends; the fast path reads only bodies sent as they are.
    req.headers['content-encoding'] === undefined &&
    req.headers['transfer-encoding'] === undefined &&
    Number.isSafeInteger(length) &&
    length <= MAX_JSON_BODY_BYTES
  );
}

/**
 * POST /v1/usage with a bearer key and a JSON body, served by Node's HTTP server directly. It is
 * the hot path (every AI action is one charge), and Express's router, body parser and response
 * helpers were half of its CPU time (BENCHMARKS.md). Same charger, same error mapping, same
 * metrics as the Express route; anything unusual (a cookie session, another content type or
 * charset, a compressed, chunked or oversized body) returns false and Express serves it.
 */
export function usageFastPath(deps: {
  sql: Sql;
  chargeUsage: UsageCharger;
  metrics: Metrics;
  log: (m: string, e: unknown) => void;
}): FastPath {
  return (req, res) => {
    const key = bearer(req.headers.authorization);
    if (!key || !servable(req)) return false;
    const context = requestContext.getStore();
    if (context) context.route = ROUTE; // the request line (api/server.ts) names the route
    const done = deps.metrics.startRequestTimer('POST');
    onBody(req, (text) => {
      void serve(key, text).then(({ status, body, headers }) => {
        writeJson(res, status, body, headers);
        done(ROUTE, status);
      });
    });
    return true;
  };

  async function serve(
    key: string,
    text: string | null,
  ): Promise<{ status: number; body: unknown; headers: Record<string, string> }> {
    try {
      const parsed = text === null ? undefined : readJsonLikeExpress(text);
      if (parsed === undefined) {
        return { status: 400, body: errorBody('invalid_json', INVALID_JSON_MESSAGE), headers: {} };
      }
      const user = await userForApiKey(deps.sql, key);
      const context = requestContext.getStore();
      if (context) context.userId = user.id;
      return await answerUsage(deps.chargeUsage, user, parsed);
    } catch (error) {
      return errorResponse(error, deps.log);
    }
  }
}

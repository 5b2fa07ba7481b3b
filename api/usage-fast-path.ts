import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UsageCharger } from '../app';
import type { Sql } from '../db/pool';
import type { Metrics } from '../observability/metrics';
import { bearer, userForApiKey } from './auth';
import { errorBody, errorResponse } from './errors';
import { answerUsage } from './routes/usage';

const MAX_BODY_BYTES = 100 * 1024;
const ROUTE = '/v1/usage';

export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Calls `then` with the request's whole body as UTF-8 text, once it has arrived. */
export function onBody(req: IncomingMessage, then: (text: string) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => then(Buffer.concat(chunks).toString('utf8')));
}

/** Answers `body` as JSON with its length (what Express's res.json sends, without Express). */
export function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * POST /v1/usage with a bearer key and a JSON body, served by Node's HTTP server directly. It is
 * the hot path (every AI action is one charge), and Express's router, body parser and response
 * helpers were half of its CPU time (BENCHMARKS.md). Same charger, same error mapping, same
 * metrics as the Express route; anything unusual (a cookie session, another content type, a
 * chunked or oversized body) returns false and Express serves it exactly as before.
 */
export function usageFastPath(deps: {
  sql: Sql;
  chargeUsage: UsageCharger;
  metrics: Metrics;
  log: (m: string, e: unknown) => void;
}): FastPath {
  return (req, res) => {
    if (req.method !== 'POST' || req.url !== ROUTE) return false;
    const key = bearer(req.headers.authorization);
    const length = Number(req.headers['content-length']);
    const json = /^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '');
    if (!key || !json || !Number.isSafeInteger(length) || length > MAX_BODY_BYTES) return false;
    const done = deps.metrics.startRequestTimer('POST');
    onBody(req, (text) => {
      void serve(key, text).then(({ status, body }) => {
        writeJson(res, status, body);
        done(ROUTE, status);
      });
    });
    return true;
  };

  async function serve(key: string, text: string): Promise<{ status: number; body: unknown }> {
    try {
      // As express.json({ strict: true }) reads bodies: empty is {}, only objects and arrays parse.
      let parsed: unknown = {};
      try {
        if (text.trim() !== '') parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (typeof parsed !== 'object' || parsed === null) {
        return { status: 400, body: errorBody('invalid_json', 'body: is not valid JSON') };
      }
      const user = await userForApiKey(deps.sql, key);
      return await answerUsage(deps.chargeUsage, user, parsed);
    } catch (error) {
      return errorResponse(error, deps.log);
    }
  }
}

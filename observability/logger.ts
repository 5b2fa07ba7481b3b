/**
 * The one logger of every process: JSON lines through pino (README "Logs"). Built once per
 * process from LOG_LEVEL by the entry points (api/main.ts, worker/main.ts, dev/start.ts with a
 * pretty stream) and handed down through the composition root; the Temporal worker's runtime
 * logs through it too (worker/worker.ts).
 *
 * Request context: api/server.ts runs every request (Express and the usage fast path alike)
 * inside `requestContext`, an AsyncLocalStorage holding the request's id. The logger's mixin
 * reads it, so any line logged while serving a request (a use case reporting a failed notice,
 * the error handler) carries `requestId`, and `userId` once authentication has found the user,
 * without passing a child logger down or allocating one per request. The request's own line
 * (method, route pattern, status, latency) is written once, when the answer is done.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { LogMetadata, Logger as TemporalLogger, LogLevel as TemporalLogLevel } from '@temporalio/common';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What a request's lines carry; api/server.ts makes one per request. */
export interface RequestContext {
  requestId: string;
  /** performance.now() when the request arrived. */
  start: number;
  /** Set by handlers outside Express (the usage fast path); Express requests use the matched route. */
  route?: string;
  /** Set by handlers outside Express once they know the user; Express requests use res.locals.user. */
  userId?: string;
  res: ServerResponse;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

/** The user the request authenticated as, if any (api/auth.ts puts Express's in res.locals.user). */
function userIdOf(context: RequestContext): string | undefined {
  if (context.userId !== undefined) return context.userId;
  const id = (context.res as { locals?: { user?: { id?: unknown } } }).locals?.user?.id;
  return typeof id === 'string' ? id : undefined;
}

/** Added to every line logged while a request is being served. */
function contextFields(): object {
  const context = requestContext.getStore();
  if (!context) return NO_FIELDS;
  const userId = userIdOf(context);
  return userId === undefined ? { requestId: context.requestId } : { requestId: context.requestId, userId };
}

/** Shared and never written to: mergeFields below returns the line's own object for it. */
const NO_FIELDS = Object.freeze({});

function mergeFields(line: object, fields: object): object {
  return fields === NO_FIELDS ? line : Object.assign(fields, line);
}

/**
 * Never logged, whatever a caller passes: credentials by their usual names, at the top level
 * and one level down (`{ headers: { authorization } }`). The request line logs no headers at all;
 * this is the net under that.
 */
const REDACT = [
  'authorization',
  'cookie',
  'apiKey',
  'password',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
];

export interface LoggerOptions {
  level?: LogLevel | undefined;
  /** Where lines go: stdout (buffered, flushed at exit) unless given, e.g. a pino-pretty stream. */
  destination?: DestinationStream | undefined;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      // `time` stays pino's epoch milliseconds: an ISO string costs about a microsecond a line.
      formatters: { level: (label) => ({ level: label }) },
      mixin: contextFields,
      mixinMergeStrategy: mergeFields,
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

let fallback: Logger | undefined;

/**
 * The logger for code that was given none (benches, scripts): LOG_LEVEL if it names a level,
 * else `info`. Entry points build their own from the parsed environment instead.
 */
export function defaultLogger(): Logger {
  const level = LOG_LEVELS.find((l) => l === process.env.LOG_LEVEL) ?? 'info';
  fallback ??= createLogger({ level });
  return fallback;
}

/** A logger that writes nothing. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The `(message, error)` callback the use cases and the error mapping take, writing to `logger`. */
export function errorLog(logger: Logger): (message: string, error: unknown) => void {
  return (message, error) => logger.error({ err: error }, message);
}

/** An X-Request-Id we take as is: 1 to 64 visible ASCII characters. */
const GOOD_REQUEST_ID = /^[\x21-\x7e]{1,64}$/;

/** The request's id: the caller's X-Request-Id when well-formed, else a new one; echoed in the answer. */
export function beginRequest(req: IncomingMessage, res: ServerResponse): RequestContext {
  const given = req.headers['x-request-id'];
  const requestId = typeof given === 'string' && GOOD_REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader('x-request-id', requestId);
  return { requestId, start: performance.now(), res };
}

/**
 * The request's one line, when its answer is done (or the client went away first: `aborted`).
 * `route` is the matched route pattern (`/v1/projects/:id`), never the raw URL with its ids.
 */
export function logRequest(
  logger: Logger,
  context: RequestContext,
  method: string | undefined,
  route: string,
): void {
  const { res } = context;
  const status = res.statusCode;
  const level = status >= 500 ? 'error' : 'info';
  if (!logger.isLevelEnabled(level)) return;
  const line: Record<string, unknown> = { requestId: context.requestId };
  const userId = userIdOf(context);
  if (userId !== undefined) line.userId = userId;
  line.method = method;
  line.route = route;
  line.status = status;
  line.latencyMs = Math.round((performance.now() - context.start) * 10) / 10;
  if (!res.writableFinished) line.aborted = true;
  logger[level](line, 'request');
}

const PINO_LEVEL = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
} as const satisfies Record<TemporalLogLevel, LogLevel>;

/** The Temporal level that lets through what `level` shows (for the worker core's own filter). */
export function temporalLevel(level: string): TemporalLogLevel {
  switch (level) {
    case 'trace':
      return 'TRACE';
    case 'debug':
      return 'DEBUG';
    case 'info':
      return 'INFO';
    case 'warn':
      return 'WARN';
    default:
      return 'ERROR';
  }
}

/**
 * The Temporal SDK's Logger interface on `logger`: the worker's own lines, activity and workflow
 * `log` calls and the forwarded core lines. Their metadata (workflowId, activityType, …) becomes
 * fields; an `error` becomes pino's `err` (message and stack).
 */
export function temporalLogger(logger: Logger): TemporalLogger {
  const write = (level: TemporalLogLevel, message: string, meta?: LogMetadata): void => {
    const method = PINO_LEVEL[level] ?? 'info';
    if (!logger.isLevelEnabled(method)) return;
    const fields: Record<string, unknown> = {};
    if (meta) {
      for (const key of Object.keys(meta)) {
        if (key === 'error') fields.err = meta[key];
        else fields[key] = meta[key];
      }
    }
    logger[method](fields, message);
  };
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}

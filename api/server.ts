import {
  createServer,
  type IncomingMessage,
  maxHeaderSize,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import type { Express, Request } from 'express';
import {
  beginRequest,
  type Logger,
  logRequest,
  type RequestContext,
  requestContext,
} from '../observability/logger';
import { errorBody, RETRY_AFTER_SECONDS } from './errors';
import type { FastPath } from './usage-fast-path';

/** Routes an app serves before Express sees the request (set by createApp). */
const fastPaths = new WeakMap<Express, FastPath>();
/** Where an app's request lines go (set by createApp). */
const loggers = new WeakMap<Express, Logger>();

export function registerFastPath(app: Express, fastPath: FastPath): void {
  fastPaths.set(app, fastPath);
}

export function registerLogger(app: Express, logger: Logger): void {
  loggers.set(app, logger);
}

/** The route pattern Express matched (`/v1/projects/:id`): what the request line and the metrics name. */
function routeOf(req: IncomingMessage, context: RequestContext): string {
  if (context.route !== undefined) return context.route;
  const { route, baseUrl } = req as Partial<Pick<Request, 'route' | 'baseUrl'>>;
  return route?.path ? `${baseUrl ?? ''}${String(route.path)}` : 'unmatched';
}

/**
 * The longest a request waits for its answer to begin. Postgres or Temporal down answers 503
 * much sooner (refused connections fail at once, connects give up after 3 s, Temporal calls
 * after 4 s); this catches what hangs instead of failing, such as a database host that stopped
 * answering on open connections, and clients that never finish sending their body (408).
 * Event streams have begun their answer and are not cut.
 */
export const REQUEST_DEADLINE_MS = 10_000;

export interface ListenOptions {
  /** Overrides REQUEST_DEADLINE_MS (tests use a short one). */
  requestDeadlineMs?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Answers 503 `unavailable` with Retry-After if nothing has been answered within `ms`. The route
 * keeps running (it cannot be stopped from here) and answers later: that answer has nowhere to
 * go, so the response's writers become no-ops rather than throwing "headers already sent" into
 * the route. A client retrying a money-moving request with its Idempotency-Key or eventId gets
 * the original result if the late answer did commit.
 */
function answerByDeadline(req: IncomingMessage, res: ServerResponse, ms: number): void {
  const timer = setTimeout(() => {
    if (res.headersSent) return;
    // The client has not sent all of its request yet (a body trickling in, or never ending):
    // its delay, not a dependency's, so a 408 and the connection closed, not a 503 to retry.
    const slowClient = !req.complete;
    const text = JSON.stringify(
      slowClient
        ? errorBody('request_timeout', `body: not received in full within ${ms / 1000} s`)
        : errorBody(
            'unavailable',
            `no answer within ${ms / 1000} s (a dependency is slow or unreachable); try again in ${RETRY_AFTER_SECONDS} s`,
          ),
    );
    res.writeHead(slowClient ? 408 : 503, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...(slowClient ? { connection: 'close' } : { 'retry-after': String(RETRY_AFTER_SECONDS) }),
    });
    res.end(text);
    res.setHeader = () => res;
    res.writeHead = () => res;
    res.write = () => true;
    res.end = () => res;
  }, ms);
  res.once('close', () => clearTimeout(timer));
}

/** Listens on `port` (0 = any free port) and returns a closer that waits for open sockets. */
export function listen(
  app: Express,
  port: number,
  host: string,
  options: ListenOptions = {},
): Promise<RunningServer> {
  const deadlineMs = options.requestDeadlineMs ?? REQUEST_DEADLINE_MS;
  return new Promise((resolve, reject) => {
    const fast = fastPaths.get(app);
    const logger = loggers.get(app);
    const serve = (req: IncomingMessage, res: ServerResponse) => {
      if (!fast?.(req, res)) app(req, res);
    };
    // Every request, the fast path's too, runs in its request context (observability/logger.ts):
    // its id is echoed as X-Request-Id and carried by every line logged while serving it; its
    // one request line is written when the answer is done.
    const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
      answerByDeadline(req, res, deadlineMs);
      const context = beginRequest(req, res);
      if (logger) res.once('close', () => logRequest(logger, context, req.method, routeOf(req, context)));
      requestContext.run(context, serve, req, res);
    });
    server.on('clientError', answerUnreadableRequest);
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      resolve({
        url: `http://${host}:${bound}`,
        port: bound,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/**
 * What Node's HTTP parser refuses before any route sees the request (a request line and headers
 * over its limit, `maxHeaderSize`: a long query string; bytes that are not HTTP) gets the API's error shape,
 * as every other 4xx does, instead of Node's bare status line. Then the connection is closed: the
 * parser cannot read on from where it stopped.
 */
function answerUnreadableRequest(error: NodeJS.ErrnoException, socket: Duplex): void {
  // As Node's own handler: nothing is written on a connection whose answer has begun (a
  // keep-alive connection's event stream, or a 408 the request deadline already sent).
  const answering = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || answering?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] = unreadable(error.code);
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The answer to a parser error, by its code (llhttp's `HPE_…`, Node's own for timeouts). */
function unreadable(code: string | undefined): [number, string, string, string] {
  if (code === 'HPE_HEADER_OVERFLOW')
    return [
      431,
      'Request Header Fields Too Large',
      'headers_too_large',
      `headers: the request line and headers are larger than ${maxHeaderSize / 1024} KB (a query string that long is one)`,
    ];
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW')
    return [413, 'Payload Too Large', 'payload_too_large', 'body: its chunk extensions are too large'];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return [408, 'Request Timeout', 'request_timeout', 'request: did not arrive in time'];
  // The parser does not say which header: the answer names the headers.
  if (code?.startsWith('HPE_INVALID_HEADER'))
    return [400, 'Bad Request', 'bad_request', 'headers: a header holds characters HTTP does not allow'];
  return [400, 'Bad Request', 'bad_request', 'request: is not valid HTTP/1.1'];
}

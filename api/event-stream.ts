import type { Request, Response } from 'express';
import { errorBody, unavailable } from './errors';
import type { ProjectProgressHub, Refusal, UserProject } from './project-progress-hub';

/** A comment line this often: proxies keep an idle stream open, and a vanished client is noticed. */
const HEARTBEAT_MS = 15_000;
/**
 * What may wait in memory for a client that does not read (its socket's buffers full). Past it
 * the stream is cut: an EventSource reconnects and gets a fresh snapshot, and a client that never
 * reads cannot make the process hold its events for ever.
 */
const MAX_BUFFERED_BYTES = 256 * 1024;

export interface StreamOptions {
  /** The Cache-Control header (the page's stream says no-store, the API's no-cache). */
  cacheControl: string;
  /** Sent as `retry:` first: how long an EventSource waits before it reconnects. */
  retryMs?: number;
  /** The stream ends after this long (the client reconnects and is authenticated again). */
  maxMs?: number;
  /** What a 429 says: how many streams a user may hold, and what to do about it. */
  userLimitMessage: string;
  /** Retry-After on a 429, in seconds. */
  retryAfterSeconds: number;
}

export interface EventStream {
  /** One event; cuts the stream when the client has stopped reading. */
  send(event: string, data: unknown): void;
  end(): void;
}

/** What a route does with its stream when the hub hears something. */
export interface StreamHandlers {
  /** The topic's rows (the snapshot first, possibly none, then each that changed). */
  projects(stream: EventStream, projects: UserProject[]): void;
  /** A read failed; without this the stream waits for Postgres and catches up. */
  failed?(stream: EventStream): void;
}

/**
 * Subscribes the request's stream to `hub` and begins the Server-Sent Events answer, or answers
 * the refusal: 429 `too_many_streams` with Retry-After over the user's limit, 503 over the
 * process's. A client that left while the route was authenticating holds no slot: its
 * subscription is dropped at once.
 */
export function streamFromHub(
  req: Request,
  res: Response,
  hub: ProjectProgressHub,
  on: { userId: string; topic: string },
  options: StreamOptions,
  handlers: StreamHandlers,
): void {
  const stream = eventStream(req, res, options);
  // The hub calls back from its next poll, never from subscribe: the head is written by then.
  const subscription = hub.subscribe(on.userId, on.topic, {
    send: (projects) => handlers.projects(stream, projects),
    ...(handlers.failed && { failed: () => handlers.failed?.(stream) }),
  });
  if (typeof subscription === 'string') {
    refuse(res, subscription, options);
    return;
  }
  stream.begin(() => subscription.unsubscribe());
}

function refuse(res: Response, refusal: Refusal, options: StreamOptions): void {
  if (refusal === 'user_limit') {
    res
      .status(429)
      .set('retry-after', String(options.retryAfterSeconds))
      .json(errorBody('too_many_streams', options.userLimitMessage));
    return;
  }
  const answer = unavailable('the progress stream (this server has all the streams it can hold)');
  res.status(answer.status).set(answer.headers).json(answer.body);
}

/**
 * The stream's writes. `begin` writes the head and starts the timers; everything is released
 * once, when the connection closes (or at once, when it has closed already).
 */
function eventStream(req: Request, res: Response, options: StreamOptions) {
  return {
    begin(onClose: () => void): void {
      // The client left while the route was authenticating: 'close' has been emitted already.
      if (res.closed || req.socket.destroyed) {
        onClose();
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': options.cacheControl,
        connection: 'keep-alive',
        // Proxies such as nginx would otherwise hold the events back in their buffers.
        'x-accel-buffering': 'no',
      });
      if (options.retryMs !== undefined) res.write(`retry: ${options.retryMs}\n\n`);
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      const lifetime = options.maxMs === undefined ? undefined : setTimeout(() => res.end(), options.maxMs);
      res.once('close', () => {
        clearInterval(heartbeat);
        clearTimeout(lifetime);
        onClose();
      });
    },
    send(event: string, data: unknown): void {
      if (res.writableEnded || res.destroyed) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
    },
    end: (): void => {
      res.end();
    },
  } satisfies EventStream & { begin(onClose: () => void): void };
}

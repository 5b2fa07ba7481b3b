import postgres from 'postgres';

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

/** The URL each pool was made from, so a pool of one connection can be made like it. */
const urls = new WeakMap<Sql, string>();

/**
 * How long opening a connection may take (TCP, startup, authentication). postgres.js waits 30 s
 * by default: with Postgres unreachable, a request would hang that long before it could answer 503.
 */
const CONNECT_TIMEOUT_SECONDS = 3;

/**
 * The pause before a connection that failed is tried again, in seconds: postgres.js's own curve
 * (3^n / 100, with jitter), capped at 1 s instead of its 20 s. A query handed to a connection in
 * its pause waits for it, so the default cap made requests hang up to 20 s while Postgres was
 * down, and kept them waiting as long after it was back.
 */
function reconnectPause(failures: number): number {
  return (0.5 + Math.random() / 2) * Math.min(3 ** failures / 100, 1);
}

/** One pool per process. BIGINT columns come back as JS numbers: credits stay far below 2^53. */
export function createPool(
  databaseUrl: string,
  options: { max?: number; applicationName?: string } = {},
): Sql {
  const sql = postgres(databaseUrl, {
    max: options.max ?? 20,
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    backoff: reconnectPause,
    // Shown in pg_stat_activity, so an operator can tell the connections apart.
    connection: { application_name: options.applicationName ?? 'credits' },
    onnotice: () => {},
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (value: number) => String(value),
        parse: (value: string) => Number(value),
      },
    },
  });
  urls.set(sql, databaseUrl);
  return sql;
}

/**
 * The longest closing a pool waits for its queries before it destroys the connections. A bare
 * `sql.end()` waits for ever: after Postgres was killed and came back, a connection caught
 * mid-reconnect never ended, and the process (a test run, a worker's shutdown) hung with it.
 */
const CLOSE_SECONDS = 5;

/** Ends `sql`: running queries get CLOSE_SECONDS to finish, then every connection is destroyed. */
export function closePool(sql: Sql): Promise<void> {
  return sql.end({ timeout: CLOSE_SECONDS });
}

/**
 * A pool of ONE connection to `sql`'s database, with the same settings. Queries sent while it is
 * busy are pipelined on it: postgres.js writes them at once and Postgres runs them in order. It
 * connects at the first query and reconnects after a failure.
 */
export function oneConnectionPool(sql: Sql, applicationName: string): Sql {
  const url = urls.get(sql);
  if (!url) throw new Error('oneConnectionPool: the pool was not made by createPool');
  return createPool(url, { max: 1, applicationName });
}

/** Socket errors (Node) and postgres.js's own connection errors: the server could not be reached. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
]);

/**
 * SQLSTATEs that say the server is going away or cannot take us now: shutting down (57P01
 * admin_shutdown, 57P02 crash_shutdown), starting or recovering (57P03 cannot_connect_now), out of
 * connection slots (53300), and every connection exception (class 08).
 */
const SERVER_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * True when `error` (or an error it wraps as `cause`) means Postgres could not be reached or is
 * going away, so the same request can succeed later: the API answers 503, not 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (UNREACHABLE.has(code) || SERVER_UNAVAILABLE.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

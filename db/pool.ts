import postgres from 'postgres';

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

/** The URL each pool was made from, so a pool of one connection can be made like it. */
const urls = new WeakMap<Sql, string>();

/** One pool per process. BIGINT columns come back as JS numbers: credits stay far below 2^53. */
export function createPool(
  databaseUrl: string,
  options: { max?: number; applicationName?: string } = {},
): Sql {
  const sql = postgres(databaseUrl, {
    max: options.max ?? 20,
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
 * A pool of ONE connection to `sql`'s database, with the same settings. Queries sent while it is
 * busy are pipelined on it: postgres.js writes them at once and Postgres runs them in order. It
 * connects at the first query and reconnects after a failure.
 */
export function oneConnectionPool(sql: Sql, applicationName: string): Sql {
  const url = urls.get(sql);
  if (!url) throw new Error('oneConnectionPool: the pool was not made by createPool');
  return createPool(url, { max: 1, applicationName });
}

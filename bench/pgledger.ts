/**
 * pgledger (github.com/pgr0ss/pgledger), a pure-Postgres ledger, run side by side with this one
 * in the same Postgres server and the same window: its own SQL from a snapshot kept outside this
 * repository (PGLEDGER_DIR, holding pgledger.sql and vendor/), in a database of its own, driven
 * as its performance check drives it: one `pgledger_create_transfer` per transaction between
 * random accounts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createPool, type Sql } from '../db/pool';
import { closedLoop, percentile } from './support';

export interface PgledgerRun {
  perSecond: number;
  p50: number;
  p99: number;
  failed: number;
}

/** The files pgledger's own `just dbload` loads, in its order. */
const FILES = [
  'vendor/scoville-pgsql-ulid/ulid-to-uuid.sql',
  'vendor/scoville-pgsql-ulid/uuid-to-ulid.sql',
  'pgledger.sql',
];

/** A database `pgledger` next to the bench's own, loaded from `dir`; returns a pool on it. */
export async function openPgledger(serverUrl: string, dir: string, poolSize: number): Promise<Sql> {
  const admin = createPool(serverUrl, { max: 1 });
  await admin`DROP DATABASE IF EXISTS pgledger`;
  await admin`CREATE DATABASE pgledger`;
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = '/pgledger';
  const sql = createPool(url.toString(), { max: poolSize });
  await sql.begin(async (tx) => {
    for (const file of FILES) await tx.unsafe(await readFile(path.join(dir, file), 'utf8'));
  });
  return sql;
}

export async function pgledgerAccounts(sql: Sql, count: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    SELECT (pgledger_create_account('acct', 'USD')).id FROM generate_series(1, ${count})`;
  await sql`ANALYZE`;
  return rows.map((r) => r.id);
}

/** `callers` loops of one transfer per transaction between two different random accounts. */
export async function pgledgerTransfers(
  sql: Sql,
  accounts: string[],
  callers: number,
  seconds: number,
): Promise<PgledgerRun> {
  const result = await closedLoop(callers, seconds, (caller, i) => {
    const from = (caller * 7919 + i * 31) % accounts.length;
    const to = (from + 1 + ((caller + i * 17) % (accounts.length - 1))) % accounts.length;
    return sql`SELECT id FROM pgledger_create_transfer(${accounts[from]!}, ${accounts[to]!}, ${1 + (i % 1000)})`;
  });
  return {
    perSecond: Math.round(result.done / (result.elapsedMs / 1000)),
    p50: percentile(result.latenciesMs, 50),
    p99: percentile(result.latenciesMs, 99),
    failed: result.failed,
  };
}

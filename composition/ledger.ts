import { Ledger, type LedgerObserver } from '../db/ledger';
import { createPool, type Sql } from '../db/pool';

/**
 * The pool and the ledger on it, the part of the root that ledger-only code (ledger tests, the
 * ledger bench) needs. Close the ledger (its own batch connection) before ending the pool.
 */
export async function openLedger(
  databaseUrl: string,
  options: { poolSize?: number | undefined; observer?: LedgerObserver | undefined } = {},
): Promise<{ sql: Sql; ledger: Ledger }> {
  const sql = createPool(databaseUrl, { max: options.poolSize ?? 20 });
  return { sql, ledger: await Ledger.open(sql, options.observer) };
}

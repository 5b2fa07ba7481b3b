import { openLedger } from '../../composition/ledger';
import type { Ledger } from '../../db/ledger';
import { closePool, createPool, type Sql } from '../../db/pool';
import { createUser } from '../../db/users';

function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests through jest (global setup)');
  return url;
}

export function testPool(max = 20): Sql {
  return createPool(databaseUrl(), { max });
}

/** A pool of `max` connections and a ledger on it, for one test file (built as the root builds them). */
export function openTestLedger(max?: number): Promise<{ sql: Sql; ledger: Ledger }> {
  return openLedger(databaseUrl(), { poolSize: max });
}

/** Closes what openTestLedger opened: the ledger's own connection first, then the pool. */
export async function closeTestLedger({ sql, ledger }: { sql: Sql; ledger: Ledger }): Promise<void> {
  await ledger.close();
  await closePool(sql);
}

let counter = 0;
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now()}-${counter}@example.test`;
}

/** A user with `credits` granted to their purchased bucket. */
export async function fundedUser(
  sql: Sql,
  ledger: Ledger,
  credits: number,
  bucket: 'purchased' | 'earned' = 'purchased',
) {
  const { user, apiKey } = await createUser(sql, { email: uniqueEmail() });
  if (credits > 0) await grantCredits(ledger, user.id, credits, bucket);
  return { user, apiKey };
}

/** Credits a user's bucket once (keyed by user and bucket), as an operator grant would. */
export async function grantCredits(
  ledger: Ledger,
  userId: string,
  credits: number,
  bucket: 'purchased' | 'earned',
): Promise<void> {
  await ledger.credit({
    idempotencyKey: `test-fund:${userId}:${bucket}`,
    userId,
    amount: credits,
    from: 'grants',
    bucket,
    kind: 'grant',
  });
}

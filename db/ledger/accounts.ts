import { type Bucket, NotFound, SPENDING_ORDER, type SystemAccount } from '../../domain';
import type { Sql, Tx } from '../pool';

export interface LockedAccount {
  id: number;
  user_id: string | null;
  bucket: Bucket | null;
  posted: number;
  held: number;
}

/** System account ids never change after migration: cache them per process. */
export class SystemAccounts {
  private ids = new Map<SystemAccount, number>();

  async load(sql: Sql): Promise<void> {
    const rows = await sql<
      { id: number; code: string }[]
    >`SELECT id, code FROM accounts WHERE user_id IS NULL`;
    for (const row of rows) this.ids.set(row.code.replace(/^system:/, '') as SystemAccount, row.id);
  }

  id(name: SystemAccount): number {
    const id = this.ids.get(name);
    if (id === undefined) throw new Error(`system account ${name} missing: run the migrations`);
    return id;
  }
}

export async function createUserAccounts(tx: Tx, userId: string): Promise<void> {
  await tx`
    INSERT INTO accounts (code, user_id, bucket)
    SELECT 'user:' || ${userId}::text || ':' || b, ${userId}::uuid, b
    FROM unnest(${[...SPENDING_ORDER]}::text[]) AS b`;
}

/**
 * Locks the users' bucket accounts and the named system accounts in one global order (user
 * accounts by id, then system accounts by id), so concurrent transactions never deadlock.
 */
export async function lockAccounts(tx: Tx, userIds: string[], systemIds: number[]): Promise<LockedAccount[]> {
  return tx<LockedAccount[]>`
    SELECT id, user_id, bucket, posted, held FROM accounts
    WHERE user_id = ANY(${userIds}::uuid[]) OR id = ANY(${systemIds}::bigint[])
    ORDER BY user_id IS NULL, id FOR UPDATE`;
}

/** The user's buckets from a locked set, in spending order; NotFound when the user has none. */
export function userBuckets(locked: LockedAccount[], userId: string): LockedAccount[] {
  const mine = locked.filter((a) => a.user_id === userId);
  if (mine.length === 0) throw new NotFound(`user ${userId} not found`);
  return SPENDING_ORDER.map((b) => mine.find((a) => a.bucket === b)).filter((a): a is LockedAccount => !!a);
}

export function available(account: LockedAccount): number {
  return account.posted - account.held;
}

/** Splits an amount over buckets in spending order; null when they cannot cover it. */
export function splitBySpendingOrder(
  buckets: LockedAccount[],
  amount: number,
): { account: LockedAccount; amount: number }[] | null {
  const total = buckets.reduce((sum, a) => sum + available(a), 0);
  if (total < amount) return null;
  const legs: { account: LockedAccount; amount: number }[] = [];
  let rest = amount;
  for (const account of buckets) {
    const take = Math.min(rest, available(account));
    if (take > 0) legs.push({ account, amount: take });
    rest -= take;
  }
  return legs;
}

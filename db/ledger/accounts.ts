import { type Bucket, NotFound, type SystemAccount } from '../../domain';
import type { Sql, Tx } from '../pool';

/** An account row as the ledger locks it: its balance and its rules (migration 010). */
export interface LockedAccount {
  id: number;
  user_id: string | null;
  bucket: Bucket | null;
  /** Place in the spending order; null for accounts that debits and holds never spend. */
  spend_rank: number | null;
  posted: number;
  held: number;
}

/** Shards per system account (migration 010): spreads the one hot row over 64. */
export const SYSTEM_SHARDS = 64;

/**
 * System account ids never change after migration: cache them per process. Which shard a
 * movement uses comes from a key: a user id for one user's transactions (they spread over the
 * shards), a batcher's name for a group commit (one row per batch, and each process's batches
 * on their own row).
 */
export class SystemAccounts {
  private ids = new Map<string, number>();

  async load(sql: Sql): Promise<void> {
    const rows = await sql<{ id: number; system_name: string; shard: number }[]>`
      SELECT id, system_name, shard FROM accounts WHERE system_name IS NOT NULL`;
    for (const row of rows) this.ids.set(`${row.system_name}#${row.shard}`, row.id);
  }

  /** The shard of `name` that movements keyed by `shardKey` use (shard 0 without a key). */
  id(name: SystemAccount, shardKey?: string): number {
    const id = this.ids.get(`${name}#${shardKey === undefined ? 0 : shardOf(shardKey)}`);
    if (id === undefined) throw new Error(`system account ${name} missing: run the migrations`);
    return id;
  }
}

/** FNV-1a over the key's UTF-16 units: any string, evenly spread, the same in every process. */
function shardOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % SYSTEM_SHARDS;
}

/** One account per bucket, each with its bucket's rules (spending order, withdrawable) as data. */
export async function createUserAccounts(tx: Tx, userId: string): Promise<void> {
  await tx`
    INSERT INTO accounts (code, user_id, bucket, spend_rank, withdrawable)
    SELECT 'user:' || ${userId}::text || ':' || b.bucket, ${userId}::uuid, b.bucket, b.spend_rank, b.withdrawable
    FROM ledger_buckets b ORDER BY b.spend_rank`;
}

/**
 * Locks the users' accounts and the named other accounts in the ledger's one global order
 * (accounts that may not go negative first, then the others, each by id: the order of
 * ledger_post_legs), so concurrent transactions never deadlock.
 */
export async function lockAccounts(tx: Tx, userIds: string[], otherIds: number[]): Promise<LockedAccount[]> {
  return tx<LockedAccount[]>`
    SELECT id, user_id, bucket, spend_rank, posted, held FROM accounts
    WHERE user_id = ANY(${userIds}::uuid[]) OR id = ANY(${otherIds}::bigint[])
    ORDER BY allow_negative, id FOR UPDATE`;
}

/**
 * The user's spendable accounts from a locked set, in spending order (the accounts' spend_rank),
 * optionally only the one bucket; NotFound when the user has none.
 */
export function spendableAccounts(locked: LockedAccount[], userId: string, only?: Bucket): LockedAccount[] {
  const mine = locked.filter((a) => a.user_id === userId);
  if (mine.length === 0) throw new NotFound(`user ${userId} not found`);
  return mine
    .filter((a) => a.spend_rank !== null && (only === undefined || a.bucket === only))
    .sort((a, b) => a.spend_rank! - b.spend_rank!);
}

export function userAccount(locked: LockedAccount[], userId: string, bucket: Bucket): LockedAccount {
  const account = locked.find((a) => a.user_id === userId && a.bucket === bucket);
  if (!account) throw new NotFound(`user ${userId} not found`);
  return account;
}

export function available(account: LockedAccount): number {
  return account.posted - account.held;
}

export function totalAvailable(accounts: LockedAccount[]): number {
  return accounts.reduce((sum, a) => sum + available(a), 0);
}

/** Splits an amount over accounts given in spending order; null when they cannot cover it. */
export function splitBySpendingOrder(
  accounts: LockedAccount[],
  amount: number,
): { account: LockedAccount; amount: number }[] | null {
  if (totalAvailable(accounts) < amount) return null;
  const legs: { account: LockedAccount; amount: number }[] = [];
  let rest = amount;
  for (const account of accounts) {
    const take = Math.min(rest, available(account));
    if (take > 0) legs.push({ account, amount: take });
    rest -= take;
  }
  return legs;
}

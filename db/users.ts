import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Conflict, ValidationError } from '../domain';
import { samePerson } from '../domain/referrals';
import { createUserAccounts } from './ledger';
import type { Sql } from './pool';
import { insertReferral } from './referrals';

export interface User {
  id: string;
  email: string;
  referralCode: string;
  referredBy: string | null;
  /** A debit taking the available balance below this records one low-balance notice; null: off. */
  lowBalanceThreshold: number | null;
  /** Auto top-up's threshold while it is enabled and active (db/auto-top-up.ts writes it); else null. */
  autoTopUpBelow: number | null;
  createdAt: string;
}

/** API keys have 256 bits of entropy, so a plain SHA-256 is a safe, fast lookup hash. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}

function newApiKey(): string {
  return `ck_${randomBytes(32).toString('base64url')}`;
}

function newReferralCode(): string {
  return randomBytes(5).toString('hex').toUpperCase();
}

interface UserRow {
  id: string;
  email: string;
  referral_code: string;
  referred_by: string | null;
  low_balance_threshold: number | null;
  auto_top_up_below: number | null;
  created_at: Date;
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    referralCode: row.referral_code,
    referredBy: row.referred_by,
    lowBalanceThreshold: row.low_balance_threshold,
    autoTopUpBelow: row.auto_top_up_below,
    createdAt: row.created_at.toISOString(),
  };
}

/** How often a sign-up draws a new referral code after drawing one that is taken (1 in 2^40 each). */
const REFERRAL_CODE_DRAWS = 3;

/** Creates the user and their ledger accounts in one transaction; the API key is returned once. */
export async function createUser(
  sql: Sql,
  input: { email: string; referralCode?: string },
): Promise<{ user: User; apiKey: string }> {
  for (let draw = 1; ; draw++) {
    try {
      return await insertUser(sql, input);
    } catch (error) {
      const taken = (error as { constraint_name?: string }).constraint_name === 'users_referral_code_key';
      if (!taken || draw >= REFERRAL_CODE_DRAWS) throw error;
    }
  }
}

async function insertUser(
  sql: Sql,
  input: { email: string; referralCode?: string },
): Promise<{ user: User; apiKey: string }> {
  const apiKey = newApiKey();
  const id = randomUUID();
  try {
    const user = await sql.begin(async (tx) => {
      let referrer: { id: string; email: string } | undefined;
      if (input.referralCode) {
        [referrer] = await tx<{ id: string; email: string }[]>`
          SELECT id, email FROM users WHERE referral_code = ${input.referralCode.toUpperCase()}`;
        if (!referrer) throw new ValidationError('referralCode', 'no user has this referral code');
      }
      const referredBy = referrer?.id ?? null;
      const [row] = await tx<UserRow[]>`
        INSERT INTO users (id, email, api_key_hash, referral_code, referred_by)
        VALUES (${id}, ${input.email}, ${hashApiKey(apiKey)}, ${newReferralCode()}, ${referredBy})
        RETURNING id, email, referral_code, referred_by, low_balance_threshold, auto_top_up_below, created_at`;
      await createUserAccounts(tx, id);
      // The referral is made with the user, so both exist or neither (DESIGN.md §11).
      if (referrer) {
        const rejected = samePerson(referrer.email, input.email) ? 'same_person' : undefined;
        await insertReferral(tx, { referrerId: referrer.id, refereeId: id, rejected });
      }
      return toUser(row!);
    });
    return { user, apiKey };
  } catch (error) {
    if ((error as { constraint_name?: string }).constraint_name === 'users_email_unique') {
      throw new Conflict('email: a user with this email already exists');
    }
    throw error;
  }
}

export async function findUserByApiKey(sql: Sql, apiKey: string): Promise<User | null> {
  const [row] = await sql<UserRow[]>`
    SELECT id, email, referral_code, referred_by, low_balance_threshold, auto_top_up_below, created_at FROM users WHERE api_key_hash = ${hashApiKey(apiKey)}`;
  return row ? toUser(row) : null;
}

export async function findUserById(sql: Sql, id: string): Promise<User | null> {
  const [row] = await sql<UserRow[]>`
    SELECT id, email, referral_code, referred_by, low_balance_threshold, auto_top_up_below, created_at FROM users WHERE id = ${id}`;
  return row ? toUser(row) : null;
}

export async function setLowBalanceThreshold(
  sql: Sql,
  userId: string,
  threshold: number | null,
): Promise<void> {
  await sql`UPDATE users SET low_balance_threshold = ${threshold} WHERE id = ${userId}`;
}

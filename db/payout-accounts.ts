import type { Sql } from './pool';

/** A user's Stripe Connect (Express) account, where their withdrawals are paid. */
export interface PayoutAccount {
  userId: string;
  stripeAccountId: string;
  payoutsEnabled: boolean;
  detailsSubmitted: boolean;
  createdAt: string;
  updatedAt: string;
}

interface PayoutAccountRow {
  user_id: string;
  stripe_account_id: string;
  payouts_enabled: boolean;
  details_submitted: boolean;
  created_at: Date;
  updated_at: Date;
}

function toPayoutAccount(r: PayoutAccountRow): PayoutAccount {
  return {
    userId: r.user_id,
    stripeAccountId: r.stripe_account_id,
    payoutsEnabled: r.payouts_enabled,
    detailsSubmitted: r.details_submitted,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export async function findPayoutAccount(sql: Sql, userId: string): Promise<PayoutAccount | null> {
  const [row] = await sql<PayoutAccountRow[]>`SELECT * FROM payout_accounts WHERE user_id = ${userId}`;
  return row ? toPayoutAccount(row) : null;
}

export async function findPayoutAccountByStripeId(
  sql: Sql,
  stripeAccountId: string,
): Promise<PayoutAccount | null> {
  const [row] = await sql<PayoutAccountRow[]>`
    SELECT * FROM payout_accounts WHERE stripe_account_id = ${stripeAccountId}`;
  return row ? toPayoutAccount(row) : null;
}

/**
 * Stores the user's account once. Two requests racing may both have asked Stripe (with the same
 * idempotency key, so for the same account): the first row stays and both read it back.
 */
export async function insertPayoutAccount(
  sql: Sql,
  account: { userId: string; stripeAccountId: string; payoutsEnabled: boolean; detailsSubmitted: boolean },
): Promise<PayoutAccount> {
  await sql`
    INSERT INTO payout_accounts (user_id, stripe_account_id, payouts_enabled, details_submitted)
    VALUES (${account.userId}, ${account.stripeAccountId}, ${account.payoutsEnabled}, ${account.detailsSubmitted})
    ON CONFLICT (user_id) DO NOTHING`;
  return (await findPayoutAccount(sql, account.userId))!;
}

/** Writes what Stripe says about the account now; null when no user has that account. */
export async function updatePayoutAccountState(
  sql: Sql,
  stripeAccountId: string,
  state: { payoutsEnabled: boolean; detailsSubmitted: boolean },
): Promise<PayoutAccount | null> {
  const [row] = await sql<PayoutAccountRow[]>`
    UPDATE payout_accounts
    SET payouts_enabled = ${state.payoutsEnabled}, details_submitted = ${state.detailsSubmitted}, updated_at = now()
    WHERE stripe_account_id = ${stripeAccountId}
    RETURNING *`;
  return row ? toPayoutAccount(row) : null;
}

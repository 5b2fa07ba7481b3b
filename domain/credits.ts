/**
 * Credits are whole numbers; money is integer minor units plus a currency.
 * Deterministic on purpose: workflows import this module.
 */
export type Credits = number;

export interface Money {
  amountMinor: number;
  currency: string;
}

/** Largest amount one operation may move: keeps sums far inside Number.MAX_SAFE_INTEGER. */
export const MAX_CREDITS_PER_OPERATION = 1_000_000_000_000;

export function isValidCredits(value: unknown): value is Credits {
  return (
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value > 0 &&
    value <= MAX_CREDITS_PER_OPERATION
  );
}

/** The two user buckets (DESIGN.md §4). Only earned credits can be withdrawn. */
export const BUCKETS = ['purchased', 'earned'] as const;
export type Bucket = (typeof BUCKETS)[number];

// The spending order (purchased first, earned last, so what a user may withdraw is kept longest)
// and which bucket is withdrawable are data: the ledger_buckets table (db/migrations/010), copied
// onto every user account.

/** What caused a ledger movement; stored on its transfers. */
export const CAUSE_TYPES = [
  'purchase',
  'usage_event',
  'project_planning',
  'project_task',
  'grant',
  'refund',
  'dispute',
  'referral',
  'withdrawal',
  'reversal',
] as const;
export type CauseType = (typeof CAUSE_TYPES)[number];

/** System accounts: the other side of every user movement. Their balances may be negative. */
export const SYSTEM_ACCOUNTS = [
  'purchases',
  'usage',
  'grants',
  'referral_rewards',
  'creator_earnings',
  'refunds',
  'withdrawals',
  // Credits frozen by a payment dispute and lost with it (db/migrations/017).
  'disputes',
] as const;
export type SystemAccount = (typeof SYSTEM_ACCOUNTS)[number];

/**
 * A withdrawal's status (DESIGN.md §11): pending until the operator decides or it expires;
 * the other four are final. The workflow, the database and the API all use these names.
 */
export const WITHDRAWAL_STATUSES = ['pending_approval', 'paid', 'rejected', 'failed', 'expired'] as const;
export type WithdrawalStatus = (typeof WITHDRAWAL_STATUSES)[number];

export interface Balance {
  available: Credits;
  posted: Credits;
  held: Credits;
}

export function formatCredits(value: Credits): string {
  return value.toLocaleString('en-US');
}

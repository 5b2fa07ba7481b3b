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

/**
 * Spending order: purchased (and granted) credits first, earned credits last,
 * so that what a user may withdraw is kept for as long as possible.
 */
export const SPENDING_ORDER: readonly Bucket[] = ['purchased', 'earned'];

/** System accounts: the other side of every user movement. Their balances may be negative. */
export const SYSTEM_ACCOUNTS = [
  'purchases',
  'usage',
  'grants',
  'referral_rewards',
  'creator_earnings',
  'refunds',
  'withdrawals',
] as const;
export type SystemAccount = (typeof SYSTEM_ACCOUNTS)[number];

export interface Balance {
  available: Credits;
  posted: Credits;
  held: Credits;
}

export function formatCredits(value: Credits): string {
  return value.toLocaleString('en-US');
}

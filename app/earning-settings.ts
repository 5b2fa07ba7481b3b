/**
 * The earning side's numbers (DESIGN.md §11): data, not code. Defaults are the product's; the
 * composition root fills them from the environment (EARNINGS_CLEARING_SECONDS, PUBLIC_URL) and
 * tests set short clearing periods. The creator's share is the rate card's (`creatorShareBp`).
 */
export interface EarningSettings {
  /** Earned credits become withdrawable this long after they were earned (refunds and disputes can still take them back). */
  clearingSeconds: number;
  /** Where links to this API point (`{publicUrl}/signup?ref=CODE`); default: the API's own URL. */
  publicUrl?: string | undefined;
  referrals: {
    /** The referrer's reward: this share of the referee's first purchase's credits, in basis points. */
    rewardBp: number;
    /** At most this many credits per reward. */
    maxRewardCredits: number;
    /** At most this many rewards per referrer per calendar month (UTC). */
    monthlyCap: number;
  };
  withdrawals: {
    /** What one credit is worth when cashed out, in cents of `currency`. */
    creditValueCents: number;
    currency: string;
    /** The smallest withdrawal, in credits. */
    minimumCredits: number;
    /** A withdrawal not decided within this many seconds expires and its hold is released. */
    decisionSeconds: number;
  };
}

export const DEFAULT_EARNING_SETTINGS: EarningSettings = {
  clearingSeconds: 14 * 24 * 3600,
  referrals: { rewardBp: 1000, maxRewardCredits: 5000, monthlyCap: 20 },
  withdrawals: {
    creditValueCents: 1,
    currency: 'usd',
    minimumCredits: 1000,
    decisionSeconds: 14 * 24 * 3600,
  },
};

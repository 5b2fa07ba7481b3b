/**
 * Referral rules (DESIGN.md §11): who counts as the same person, what a reward is worth, when a
 * referral is rejected, and how a referee's email is shown to the referrer. Pure and
 * deterministic: the database gathers the facts under its locks (db/referrals.ts), this decides.
 */

/** What a referral shows: signed up (no reward decided yet), rewarded, rejected, clawed back. */
export const REFERRAL_STATUSES = ['signed_up', 'rewarded', 'rejected', 'clawed_back'] as const;
export type ReferralStatus = (typeof REFERRAL_STATUSES)[number];

/** Why a referral earned nothing. */
export const REFERRAL_REJECTIONS = ['same_person', 'same_card', 'monthly_cap'] as const;
export type ReferralRejection = (typeof REFERRAL_REJECTIONS)[number];

/**
 * Why a reward was taken back: its purchase was refunded or disputed, or the referrer paid, after
 * the reward, with the card that paid for it (same_card, as a rejection would have said).
 */
export const CLAWBACK_REASONS = ['refunded', 'disputed', 'same_card'] as const;
export type ClawbackReason = (typeof CLAWBACK_REASONS)[number];

/** The reward's numbers (EarningSettings.referrals has this shape): data, not code. */
export interface ReferralRules {
  /** Share of the first purchase's credits, in basis points. */
  rewardBp: number;
  /** At most this many credits per reward. */
  maxRewardCredits: number;
  /** At most this many rewards per referrer per calendar month (UTC). */
  monthlyCap: number;
}

/** Mail providers that ignore dots in the local part (and are one provider under two names). */
const GMAIL_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

/**
 * One mailbox, however it is spelled: lower case, without a `+tag`, and for Gmail without dots
 * (googlemail.com is gmail.com). `j.doe+promo@Gmail.com` and `jdoe@googlemail.com` are the same.
 */
export function normalizeEmail(email: string): string {
  const lower = email.trim().toLowerCase();
  const at = lower.lastIndexOf('@');
  if (at <= 0) return lower;
  let local = lower.slice(0, at);
  let domain = lower.slice(at + 1);
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  if (GMAIL_DOMAINS.has(domain)) {
    local = local.replace(/\./g, '');
    domain = 'gmail.com';
  }
  return `${local}@${domain}`;
}

export function samePerson(a: string, b: string): boolean {
  return normalizeEmail(a) === normalizeEmail(b);
}

/**
 * The referee's email as the referrer sees it: the first character of the mailbox and the
 * domain (`j***@example.com`), enough to recognise a friend, not enough to harvest addresses.
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${Array.from(email.slice(0, at))[0]}***@${email.slice(at + 1)}`;
}

/**
 * floor(credits × rewardBp / 10,000), at most maxRewardCredits. BigInt: a purchase's credits
 * (up to 10^12) times basis points can pass 2^53, where Number arithmetic would round.
 */
export function rewardCredits(
  purchaseCredits: number,
  rules: Pick<ReferralRules, 'rewardBp' | 'maxRewardCredits'>,
): number {
  const raw = (BigInt(purchaseCredits) * BigInt(rules.rewardBp)) / 10_000n;
  const capped = raw > BigInt(rules.maxRewardCredits) ? BigInt(rules.maxRewardCredits) : raw;
  return capped < 0n ? 0 : Number(capped);
}

/** What the database knows about a referee's first purchase when it is credited. */
export interface ReferralFacts {
  referrerEmail: string;
  refereeEmail: string;
  /** The paying card's fingerprint is one the referrer has paid with. */
  sharesCard: boolean;
  /** Rewards already granted to the referrer this calendar month (UTC). */
  rewardsThisMonth: number;
  /** The first purchase's credits. */
  purchaseCredits: number;
}

export type ReferralDecision =
  | { kind: 'reward'; credits: number }
  | { kind: 'reject'; reason: ReferralRejection };

/**
 * The referrer is rewarded unless referrer and referee are one person (by email or by card), or
 * the referrer has had this month's rewards already. Identity first: a self-referral says so
 * even when the cap is reached too.
 */
export function decideReferral(facts: ReferralFacts, rules: ReferralRules): ReferralDecision {
  if (samePerson(facts.referrerEmail, facts.refereeEmail)) return { kind: 'reject', reason: 'same_person' };
  if (facts.sharesCard) return { kind: 'reject', reason: 'same_card' };
  if (facts.rewardsThisMonth >= rules.monthlyCap) return { kind: 'reject', reason: 'monthly_cap' };
  return { kind: 'reward', credits: rewardCredits(facts.purchaseCredits, rules) };
}

/**
 * Referrals (DESIGN.md §11): the referrer's reward when a referee's first purchase is credited,
 * its clawback when that purchase is refunded (or disputed) before the reward clears, and the
 * referrer's view. Called by the purchase activities (app/purchase-payments.ts) and the API.
 *
 * Every step may run again (activities are retried): the referral is decided once under a row
 * lock (db/referrals.ts), the reward and its clawback are one ledger operation each, keyed by
 * the referee, and the referral's status moves forward only, conditionally.
 */
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import { findCardFingerprint, recordCardFingerprint } from '../db/purchases';
import {
  claimClawback,
  clawbackKey,
  decideFirstPurchase,
  findReferralByPurchase,
  finishClawback,
  listReferrals,
  lowerClawbackPlan,
  markReferralRewarded,
  type Referral,
  type ReferredUser,
  rewardingPurchasesPaidWith,
  rewardKey,
  shortfallWithholdingKey,
} from '../db/referrals';
import type { User } from '../db/users';
import { IdempotencyConflict, InsufficientCredits } from '../domain';
import {
  type ClawbackReason,
  decideReferral,
  maskEmail,
  type ReferralRejection,
  type ReferralStatus,
} from '../domain/referrals';
import type { BalanceEvents } from './balance-events';
import type { EarningSettings } from './earning-settings';

/** Reads the fingerprint of the card that paid a payment (null when it was not a card). */
export type CardFingerprintOf = (paymentIntentId: string) => Promise<string | null>;

export interface ReferralDeps {
  sql: Sql;
  ledger: Ledger;
  balanceEvents: BalanceEvents;
}

export interface ReferralRewardDeps extends ReferralDeps {
  earning: EarningSettings;
  cardFingerprint: CardFingerprintOf;
}

/**
 * After a purchase is credited: record its paying card; if it is the referee's first purchase,
 * decide the referral and pay the referrer's reward into their earned bucket; then, as a
 * referrer, the buyer loses the rewards not yet cleared that this card paid for. Returns the
 * referral this purchase decided (null when it decided none).
 */
export async function rewardReferral(
  deps: ReferralRewardDeps,
  input: { purchaseId: string; userId: string; paymentIntentId: string },
): Promise<Referral | null> {
  const cardFingerprint = await recordPaymentCard(deps, input);
  const referral = await decideReferee(deps, input, cardFingerprint);
  // Last: the buyer's own referral is decided and paid whatever happens to their referees'.
  if (cardFingerprint) await takeBackRewardsPaidWithCard(deps, { referrerId: input.userId, cardFingerprint });
  return referral;
}

/** The buyer's own referral, if this purchase is their first: decided once, its reward paid. */
async function decideReferee(
  deps: ReferralRewardDeps,
  input: { purchaseId: string; userId: string },
  cardFingerprint: string | null,
): Promise<Referral | null> {
  const referral = await decideFirstPurchase(
    deps.sql,
    {
      purchaseId: input.purchaseId,
      refereeId: input.userId,
      cardFingerprint,
      clearSeconds: deps.earning.clearingSeconds,
    },
    (facts) => decideReferral(facts, deps.earning.referrals),
  );
  // Decided on an earlier try and paid (or rejected): nothing left to do.
  if (referral?.status !== 'signed_up') return referral;
  await payReward(deps, referral);
  return referral;
}

/**
 * A referrer paying with the card that paid a referee's rewarding purchase shares that card with
 * them: had the referrer paid first, the referral would have been rejected as same_card. Rewards
 * not yet cleared are taken back (clawed_back, reason same_card); cleared ones stay, as they do
 * after a late refund.
 */
async function takeBackRewardsPaidWithCard(
  deps: ReferralDeps,
  input: { referrerId: string; cardFingerprint: string },
): Promise<void> {
  for (const purchaseId of await rewardingPurchasesPaidWith(deps.sql, input))
    await clawBackReferralReward(deps, { purchaseId, reason: 'same_card' });
}

/**
 * The paying card's fingerprint, read from Stripe once and kept on the purchase: the referral
 * check compares a referee's card with every card their referrer has paid with.
 */
async function recordPaymentCard(
  deps: Pick<ReferralRewardDeps, 'sql' | 'cardFingerprint'>,
  input: { purchaseId: string; paymentIntentId: string },
): Promise<string | null> {
  const known = await findCardFingerprint(deps.sql, input.purchaseId);
  if (known) return known;
  const fingerprint = await deps.cardFingerprint(input.paymentIntentId);
  if (fingerprint) await recordCardFingerprint(deps.sql, input.purchaseId, fingerprint);
  return fingerprint;
}

/**
 * The decided reward's ledger credit (from the referral_rewards account into the referrer's
 * earned bucket, clearing like any earning), then the referral is rewarded and the referrer's
 * paused projects are woken. The ledger request is built from the referral row only, so a retry,
 * or a clawback finishing a reward still in flight, makes exactly the same request: the ledger
 * replays it instead of paying twice (its key is per referee).
 */
async function payReward(deps: ReferralDeps, referral: Referral): Promise<void> {
  if (referral.rewardCredits > 0) {
    await deps.ledger.credit({
      idempotencyKey: rewardKey(referral.refereeId),
      userId: referral.referrerId,
      amount: referral.rewardCredits,
      from: 'referral_rewards',
      bucket: 'earned',
      kind: 'referral_reward',
      description: 'referral reward',
      // The database requires it with any reward (013_referrals.sql); 0 would only be the fallback of a bug.
      clearSeconds: referral.rewardClearSeconds ?? 0,
      cause: { type: 'referral', id: referral.id },
    });
  }
  await markReferralRewarded(deps.sql, referral);
  if (referral.rewardCredits > 0)
    await deps.balanceEvents.credited({ userId: referral.referrerId, reason: 'referral_reward' });
}

/** What a clawback did: the reward, what was taken back of it, and what could not be. */
export interface ReferralClawback {
  referralId: string;
  referrerId: string;
  rewardCredits: number;
  clawedBackCredits: number;
  shortfallCredits: number;
}

/** How often a clawback re-plans when the referrer's earned credits keep moving under it. */
const CLAWBACK_ATTEMPTS = 5;

/**
 * The purchase that earned a referral reward was refunded (or disputed): take the reward back
 * from the referrer's earned bucket, as much of it as is still there (spent credits cannot be
 * un-spent, so the rest is recorded as the shortfall; no balance ever goes below zero: the ledger
 * refuses that), and mark the referral clawed_back. Once: the clawback is claimed on the
 * referral row and is one ledger operation keyed by the referee. Nothing happens when the
 * purchase earned no reward, or the reward has cleared (it may have been withdrawn). Returns
 * what was done (also on a repeat), or null.
 */
export async function clawBackReferralReward(
  deps: ReferralDeps,
  input: { purchaseId: string; reason: ClawbackReason },
): Promise<ReferralClawback | null> {
  let referral = await findReferralByPurchase(deps.sql, input.purchaseId);
  if (!referral || referral.rewardCredits === 0 || referral.status === 'rejected') return null;
  if (referral.status === 'clawed_back') {
    // A retry after a stop between the clawback and its withholding: the withholding is keyed.
    await withholdShortfall(deps, referral);
    return clawbackOf(referral);
  }
  if (referral.status === 'signed_up') {
    // The purchase's credit activity decided the reward but has not paid it yet: pay it first,
    // so what is taken back was given and the referral's state agrees with the ledger.
    await payReward(deps, referral);
    referral = (await findReferralByPurchase(deps.sql, input.purchaseId))!;
  }
  const planned = Math.min(referral.rewardCredits, await earnedAvailable(deps, referral.referrerId));
  const claimed = await claimClawback(deps.sql, { id: referral.id, reason: input.reason, planned });
  if (!claimed) return null;
  await takeBack(deps, claimed);
  const done = await finishClawback(deps.sql, claimed);
  await withholdShortfall(deps, done);
  const result = clawbackOf(done);
  if (result.clawedBackCredits > 0) {
    await deps.balanceEvents.debited({
      userId: done.referrerId,
      debitKey: clawbackKey(done.refereeId),
      charged: result.clawedBackCredits,
      availableAfter: (await deps.ledger.balance(done.referrerId)).available,
    });
  }
  return result;
}

/**
 * Posts the clawback's plan from the referrer's earned bucket (not the purchased one: the reward
 * went there) back to the referral_rewards account. The plan is stored on the referral before
 * the post, so a retry repeats the same request and the ledger replays it. When the bucket holds
 * less than planned (spent meanwhile), the post is refused whole, nothing moved, and the plan is
 * lowered to what is there. Another clawback of the same referral that posted a lower plan first
 * shows as an IdempotencyConflict: then that one is the take-back (finishClawback reads it).
 */
async function takeBack(deps: ReferralDeps, claimed: Referral): Promise<void> {
  let plan = claimed.clawbackCredits ?? 0;
  for (let attempt = 0; plan > 0; attempt++) {
    if (attempt === CLAWBACK_ATTEMPTS)
      throw new Error(`referral ${claimed.id}: the clawback kept losing its credits to spending; retry`);
    try {
      await deps.ledger.post({
        idempotencyKey: clawbackKey(claimed.refereeId),
        kind: 'referral_clawback',
        description: 'referral reward taken back',
        cause: { type: 'referral', id: claimed.id },
        legs: [
          {
            from: { userId: claimed.referrerId, bucket: 'earned' },
            to: { system: 'referral_rewards' },
            amount: plan,
          },
        ],
      });
      return;
    } catch (error) {
      if (error instanceof IdempotencyConflict) return;
      if (!(error instanceof InsufficientCredits)) throw error;
      plan = await lowerClawbackPlan(deps.sql, claimed.id, await earnedAvailable(deps, claimed.referrerId));
    }
  }
}

/**
 * What a clawback could not take back (the reward was spent) is withheld from the referrer's
 * withdrawable credits for good. Without it, credits that come back to the earned bucket later (a
 * reversal of the usage that spent the reward) would be cashed out as the reward the refund took
 * back: refunded referees' purchases turned into a payout. Like the shortfall itself, this does
 * not take credits back; the referrer may still spend them. Keyed by the referee, like the clawback.
 */
async function withholdShortfall(deps: ReferralDeps, referral: Referral): Promise<void> {
  const { shortfallCredits } = clawbackOf(referral);
  if (shortfallCredits <= 0) return;
  try {
    await deps.ledger.withhold({
      idempotencyKey: shortfallWithholdingKey(referral.refereeId),
      userId: referral.referrerId,
      amount: shortfallCredits,
      kind: 'referral_shortfall',
      bucket: 'earned',
      cause: { type: 'referral', id: referral.id },
    });
  } catch (error) {
    // Two clawbacks of one referral that saw different shortfalls (one planned 0 while the other
    // still took credits): the first withholding stands. It can only be the larger, so no
    // credits are let out that should not be.
    if (!(error instanceof IdempotencyConflict)) throw error;
  }
}

/**
 * A won dispute: the purchase stands, so what its clawback withheld is given back (the reward
 * taken back stays taken back, as after a refund). Keyed by the referee, once.
 */
export async function releaseDisputedShortfall(deps: ReferralDeps, purchaseId: string): Promise<void> {
  const referral = await findReferralByPurchase(deps.sql, purchaseId);
  if (referral?.clawbackReason !== 'disputed') return;
  await deps.ledger.releaseWithholding({
    idempotencyKey: `referral-shortfall-release:${referral.refereeId}`,
    withholdingKey: shortfallWithholdingKey(referral.refereeId),
    cause: { type: 'referral', id: referral.id },
  });
}

async function earnedAvailable(deps: ReferralDeps, userId: string): Promise<number> {
  return Math.max(0, (await deps.ledger.balance(userId)).byBucket.earned.available);
}

function clawbackOf(referral: Referral): ReferralClawback {
  const clawedBack = referral.clawedBackCredits ?? 0;
  return {
    referralId: referral.id,
    referrerId: referral.referrerId,
    rewardCredits: referral.rewardCredits,
    clawedBackCredits: clawedBack,
    shortfallCredits: referral.rewardCredits - clawedBack,
  };
}

/** One referred sign-up as GET /v1/referrals shows it. */
export interface ReferredView {
  /** Masked: `j***@example.com`. */
  email: string;
  signedUpAt: string;
  status: ReferralStatus;
  /** What the referral earned the referrer in the end: the reward, less what was clawed back. */
  rewardCredits: number;
  /** Why it was rejected (rejected only). */
  reason?: ReferralRejection;
  /** What was taken back (clawed_back only). */
  clawedBackCredits?: number;
  /** The part of the reward that was already spent when it was taken back (clawed_back only). */
  shortfallCredits?: number;
  /** Why it was taken back (clawed_back only): refunded, disputed or same_card. */
  clawbackReason?: ClawbackReason;
}

export interface ReferralSummary {
  referralCode: string;
  link: string;
  referred: ReferredView[];
  /** How many sign-ups the referrer has referred in all (`referred` lists the newest). */
  referredCount: number;
  /** Credits earned from referrals in all, net of clawbacks (the sum of every rewardCredits). */
  rewardsTotal: number;
}

/** The sign-up link for a referral code: PUBLIC_URL when set, else the origin the caller used. */
export function referralLink(publicUrl: string | undefined, origin: string, code: string): string {
  const base = (publicUrl ?? origin).replace(/\/+$/, '');
  return `${base}/signup?ref=${encodeURIComponent(code)}`;
}

/** GET /v1/referrals: the user's code, link, referred sign-ups (newest `limit`) and rewards. */
export async function referralSummary(
  deps: { sql: Sql; earning: EarningSettings },
  input: { user: Pick<User, 'id' | 'referralCode'>; origin: string; limit: number },
): Promise<ReferralSummary> {
  const { referred, total, rewardsTotal } = await listReferrals(deps.sql, input.user.id, input.limit);
  return {
    referralCode: input.user.referralCode,
    link: referralLink(deps.earning.publicUrl, input.origin, input.user.referralCode),
    referred: referred.map(referredView),
    referredCount: total,
    rewardsTotal,
  };
}

/** Exhaustive over the statuses: a new status must say what it shows. */
function referredView(r: ReferredUser): ReferredView {
  const base = { email: maskEmail(r.email), signedUpAt: r.signedUpAt, status: r.status };
  switch (r.status) {
    case 'signed_up':
      // A reward decided but not yet paid shows as nothing yet: it is not the referrer's until paid.
      return { ...base, rewardCredits: 0 };
    case 'rewarded':
      return { ...base, rewardCredits: r.rewardCredits };
    case 'rejected':
      return { ...base, rewardCredits: 0, ...(r.reason ? { reason: r.reason } : {}) };
    case 'clawed_back': {
      const clawedBack = r.clawedBackCredits ?? 0;
      const kept = r.rewardCredits - clawedBack;
      return {
        ...base,
        rewardCredits: kept,
        clawedBackCredits: clawedBack,
        shortfallCredits: kept,
        ...(r.clawbackReason ? { clawbackReason: r.clawbackReason } : {}),
      };
    }
    default: {
      const unknown: never = r.status;
      throw new Error(`unknown referral status ${String(unknown)}`);
    }
  }
}

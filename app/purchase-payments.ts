/**
 * The money steps of a purchase (DESIGN.md §6, §12), called by the purchase workflows'
 * activities: crediting a paid purchase, and taking credits back when its payment is refunded
 * in Stripe. Every ledger write is keyed by the payment, so a retried or replayed activity never
 * moves credits twice, and ends with its balance event.
 */
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import { claimRefundStep, findPurchase, markPurchaseCompleted, settleRefundStep } from '../db/purchases';
import { InsufficientCredits, NotFound } from '../domain';
import type { PurchaseStatus } from '../domain/purchases';
import type { BalanceEvents } from './balance-events';
import type { EarningSettings } from './earning-settings';
import { type CardFingerprintOf, clawBackReferralReward, rewardReferral } from './referrals';

export interface PurchasePaymentDeps {
  sql: Sql;
  ledger: Ledger;
  balanceEvents: BalanceEvents;
  /** The referral reward's numbers (a referee's first purchase pays their referrer). */
  earning: EarningSettings;
  /** The paying card, for the referral's same-card check (the activity reads it from Stripe). */
  cardFingerprint: CardFingerprintOf;
  /** Saves the card the payment was made with, when the buyer consented (app/customers.ts). */
  saveCard?: ((input: { userId: string; paymentIntentId: string }) => Promise<unknown>) | undefined;
}

/**
 * Credits a paid purchase once (keyed by its Checkout Session) and marks it completed; if it is
 * the buyer's first purchase and they were referred, their referrer is rewarded (app/referrals.ts).
 */
export async function creditPurchase(
  deps: PurchasePaymentDeps,
  input: { purchaseId: string; userId: string; credits: number; sessionId: string; paymentIntentId: string },
): Promise<{ available: number }> {
  const result = await deps.ledger.credit({
    idempotencyKey: `purchase:${input.sessionId}`,
    userId: input.userId,
    amount: input.credits,
    from: 'purchases',
    bucket: 'purchased',
    kind: 'purchase',
    description: `purchase ${input.purchaseId}`,
    cause: { type: 'purchase', id: input.purchaseId },
  });
  await markPurchaseCompleted(deps.sql, input.purchaseId, input.paymentIntentId);
  // After the purchase is completed: "first purchase" is the earliest completed one.
  await rewardReferral(deps, input);
  // The card becomes the saved one for off-session charges (auto top-up, DESIGN.md §13).
  await deps.saveCard?.({ userId: input.userId, paymentIntentId: input.paymentIntentId });
  return { available: result.availableAfter };
}

/** What one refund of a credited payment took back; `claimed: false` when it was already counted. */
export interface RefundTakeBack {
  claimed: boolean;
  status: PurchaseStatus | null;
  creditsDue: number;
  creditsReversed: number;
}

/**
 * The credited payment was refunded in Stripe, `refundedThroughCents` in all so far (Stripe's
 * cumulative charge.amount_refunded): record the new refund step, move the purchase to
 * partially_refunded or refunded, and take back the step's share of the credits (DESIGN.md
 * §12) as far as the user still has them: spent credits cannot be un-spent, so the shortfall
 * stays recorded (credits due − credits reversed). A step is keyed by the payment and its
 * total, so a redelivered webhook or a retried activity never takes credits twice.
 */
export async function takeBackRefundedCredits(
  deps: PurchasePaymentDeps,
  input: { purchaseId: string; paymentIntentId: string; refundedThroughCents: number },
): Promise<RefundTakeBack> {
  const step = await claimRefundStep(deps.sql, input);
  if (!step) return { claimed: false, status: null, creditsDue: 0, creditsReversed: 0 };
  const reversed = await takeBackUpTo(deps, { ...step, credits: step.creditsDue });
  await settleRefundStep(deps.sql, step.id, reversed);
  // Any refund of the purchase that earned a referral reward takes the reward back (once).
  await clawBackReferralReward(deps, { purchaseId: input.purchaseId, reason: 'refunded' });
  return { claimed: true, status: step.status, creditsDue: step.creditsDue, creditsReversed: reversed };
}

/**
 * For purchaseRefundedWorkflow runs started before partial refunds were handled: their refund
 * was taken as the whole payment. Same steps as takeBackRefundedCredits.
 */
export async function reversePurchaseCredits(
  deps: PurchasePaymentDeps,
  input: { purchaseId: string; paymentIntentId: string },
): Promise<void> {
  const purchase = await findPurchase(deps.sql, input.purchaseId);
  if (!purchase) throw new NotFound(`purchase ${input.purchaseId} not found`);
  const step = await claimRefundStep(deps.sql, { ...input, refundedThroughCents: purchase.priceCents });
  if (!step) return;
  const reversed = await takeBackUpTo(deps, { ...step, credits: step.creditsDue });
  await settleRefundStep(deps.sql, step.id, reversed);
  await clawBackReferralReward(deps, { purchaseId: input.purchaseId, reason: 'refunded' });
}

/**
 * Debits up to `credits` from the user, as many as they still have; returns how many. The key
 * alone names the take-back (fingerprint = key): a retry after the balance changed may ask for
 * less and still gets the first answer, so it never takes twice. A take-back is a debit like any
 * other: crossing the low-balance threshold records the notice.
 */
async function takeBackUpTo(
  deps: PurchasePaymentDeps,
  step: {
    id: string;
    userId: string;
    purchaseId: string;
    paymentIntentId: string;
    refundedThroughCents: number;
    credits: number;
  },
): Promise<number> {
  if (step.credits <= 0) return 0;
  const key = `purchase-refund:${step.paymentIntentId}:${step.refundedThroughCents}`;
  const take = (amount: number) =>
    deps.ledger.debit({
      idempotencyKey: key,
      fingerprint: key,
      userId: step.userId,
      amount,
      to: 'refunds',
      kind: 'purchase_refund',
      description: `refund of purchase ${step.purchaseId}`,
      cause: { type: 'refund', id: step.id },
    });
  let result: Awaited<ReturnType<typeof take>>;
  try {
    result = await take(step.credits);
  } catch (error) {
    if (!(error instanceof InsufficientCredits)) throw error;
    if (error.available <= 0) return 0;
    result = await take(error.available);
  }
  if (!result.replayed)
    await deps.balanceEvents.debited({
      userId: step.userId,
      debitKey: key,
      charged: result.amount,
      availableAfter: result.availableAfter,
    });
  return result.amount;
}

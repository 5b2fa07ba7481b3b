import { condition, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type {
  CheckoutActivities,
  PurchaseLedgerActivities,
  ReceiptActivities,
  RefundLedgerActivities,
  RefundStripeActivities,
} from '../activities';
import { ledgerActivity, mailActivity, stripeActivity } from './activity-options';
import {
  checkoutUpdate,
  type DuplicateChargeInput,
  type PaymentSucceeded,
  type PurchaseInput,
  type PurchaseOutcomeStatus,
  type PurchaseProgress,
  type PurchaseRefundedInput,
  paymentFailedSignal,
  paymentSucceededSignal,
  purchaseProgressQuery,
  sessionExpiredSignal,
} from './messages';

// One proxy per concern, typed to exactly what these workflows call, each with its preset.
const records = proxyActivities<PurchaseLedgerActivities>(ledgerActivity);
const checkout = proxyActivities<CheckoutActivities>(stripeActivity);
const receipts = proxyActivities<ReceiptActivities>(mailActivity);
const stripeRefunds = proxyActivities<RefundStripeActivities>(stripeActivity);
const refundLedger = proxyActivities<RefundLedgerActivities>(ledgerActivity);

/**
 * Patch: a refund made in Stripe takes back credits in proportion to the newly refunded amount
 * (takeBackRefundedCredits) instead of the whole purchase (reversePurchaseCredits). Histories
 * recorded before it replay on the old branch.
 */
export const PROPORTIONAL_REFUNDS_PATCH = 'proportional-refunds';

export interface PurchaseOutcome {
  status: PurchaseOutcomeStatus;
  paymentIntentId: string | null;
  duplicatesRefunded: string[];
}

/**
 * The purchase saga (DESIGN.md §6), one run per purchase: record it, open a Checkout Session,
 * wait for the payment (webhook signal, or polling Stripe when none comes), credit the ledger
 * exactly once, send the receipt. Any further successful charge is a duplicate and is refunded.
 */
export async function purchaseWorkflow(input: PurchaseInput): Promise<PurchaseOutcome> {
  const progress: PurchaseProgress = {
    status: 'pending',
    checkoutUrl: null,
    paymentIntentId: null,
    duplicatesRefunded: [],
  };
  let sessionId: string | null = null;
  const payments: PaymentSucceeded[] = [];
  let failure: string | null = null;
  let expired = false;

  setHandler(paymentSucceededSignal, (payment) => {
    if (!payments.some((p) => p.paymentIntentId === payment.paymentIntentId)) payments.push(payment);
  });
  setHandler(paymentFailedSignal, ({ reason }) => {
    failure ??= reason;
  });
  setHandler(sessionExpiredSignal, () => {
    expired = true;
  });
  setHandler(checkoutUpdate, async () => {
    await condition(() => sessionId !== null && progress.checkoutUrl !== null);
    return { sessionId: sessionId!, checkoutUrl: progress.checkoutUrl! };
  });
  setHandler(purchaseProgressQuery, () => progress);

  await records.createPurchaseRecord(input);
  const session = await checkout.createCheckoutSession(input);
  sessionId = session.sessionId;
  progress.checkoutUrl = session.checkoutUrl;

  const settled = () => payments.length > 0 || failure !== null || expired;
  while (!settled()) {
    if (await condition(settled, `${input.pollIntervalSeconds} seconds`)) break;
    const seen = await checkout.pollCheckoutSession({ sessionId });
    if (seen.paymentIntentId)
      payments.push({ sessionId, paymentIntentId: seen.paymentIntentId, source: 'poll' });
    else if (seen.status === 'expired') expired = true;
  }

  if (payments.length === 0) {
    const status = failure !== null ? 'failed' : 'expired';
    progress.status = status;
    await records.closePurchase({
      purchaseId: input.purchaseId,
      status,
      reason: failure ?? 'checkout session expired',
    });
    return { status, paymentIntentId: null, duplicatesRefunded: [] };
  }

  const paid = payments[0]!;
  await records.creditPurchase({
    purchaseId: input.purchaseId,
    userId: input.userId,
    credits: input.credits,
    sessionId,
    paymentIntentId: paid.paymentIntentId,
  });
  progress.status = 'completed';
  progress.paymentIntentId = paid.paymentIntentId;
  await records.announceTopUp({ userId: input.userId, reason: 'purchase' });
  await receipts.sendReceipt({ purchaseId: input.purchaseId });

  // Charges that arrived while this ran; later ones are refunded by duplicateChargeWorkflow.
  for (let i = 1; i < payments.length; i++) {
    const duplicate = payments[i]!.paymentIntentId;
    await stripeRefunds.refundDuplicateCharge({ purchaseId: input.purchaseId, paymentIntentId: duplicate });
    progress.duplicatesRefunded.push(duplicate);
  }
  return {
    status: 'completed',
    paymentIntentId: paid.paymentIntentId,
    duplicatesRefunded: progress.duplicatesRefunded,
  };
}

/** A successful charge for a purchase that was already credited: refund it. */
export async function duplicateChargeWorkflow(input: DuplicateChargeInput): Promise<void> {
  await stripeRefunds.refundDuplicateCharge(input);
}

/**
 * The credited payment was refunded in Stripe (DESIGN.md §12): take back the credits in
 * proportion to the newly refunded amount, as many as are left; the purchase becomes
 * partially_refunded or refunded. One run per refunded total, so each partial refund is taken once.
 */
export async function purchaseRefundedWorkflow(input: PurchaseRefundedInput): Promise<void> {
  // patched() first, always: it must be asked in every run for the marker to be recorded.
  if (patched(PROPORTIONAL_REFUNDS_PATCH) && input.refundedThroughCents !== undefined) {
    await refundLedger.takeBackRefundedCredits({
      purchaseId: input.purchaseId,
      paymentIntentId: input.paymentIntentId,
      refundedThroughCents: input.refundedThroughCents,
    });
    return;
  }
  await refundLedger.reversePurchaseCredits({
    purchaseId: input.purchaseId,
    paymentIntentId: input.paymentIntentId,
  });
}

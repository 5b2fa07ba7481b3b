import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { PurchaseActivities } from '../activities/purchases';
import { NON_RETRYABLE_ERRORS } from '../domain';
import {
  checkoutUpdate,
  type PaymentSucceeded,
  type PurchaseInput,
  type PurchaseProgress,
  paymentFailedSignal,
  paymentSucceededSignal,
  purchaseProgressQuery,
  sessionExpiredSignal,
} from './messages';

/** Stripe calls: retried with backoff for a long time (Stripe outages heal); bad requests are not retried. */
const stripe = proxyActivities<PurchaseActivities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERRORS, 'StripeInvalidRequestError'],
  },
});

/** Database and ledger steps: short, idempotent, retried until they succeed. */
const ledger = proxyActivities<PurchaseActivities>({
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    maximumInterval: '10 seconds',
    nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
  },
});

export interface PurchaseOutcome {
  status: 'completed' | 'failed' | 'expired';
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

  await ledger.createPurchaseRecord(input);
  const session = await stripe.createCheckoutSession(input);
  sessionId = session.sessionId;
  progress.checkoutUrl = session.checkoutUrl;

  const settled = () => payments.length > 0 || failure !== null || expired;
  while (!settled()) {
    if (await condition(settled, `${input.pollIntervalSeconds} seconds`)) break;
    const seen = await stripe.pollCheckoutSession({ sessionId });
    if (seen.paymentIntentId)
      payments.push({ sessionId, paymentIntentId: seen.paymentIntentId, source: 'poll' });
    else if (seen.status === 'expired') expired = true;
  }

  if (payments.length === 0) {
    const status = failure !== null ? 'failed' : 'expired';
    progress.status = status;
    await ledger.closePurchase({
      purchaseId: input.purchaseId,
      status,
      reason: failure ?? 'checkout session expired',
    });
    return { status, paymentIntentId: null, duplicatesRefunded: [] };
  }

  const paid = payments[0]!;
  await ledger.creditPurchase({
    purchaseId: input.purchaseId,
    userId: input.userId,
    credits: input.credits,
    sessionId,
    paymentIntentId: paid.paymentIntentId,
  });
  progress.status = 'completed';
  progress.paymentIntentId = paid.paymentIntentId;
  await ledger.announceTopUp({ userId: input.userId, reason: 'purchase' });
  await ledger.sendReceipt({ purchaseId: input.purchaseId });

  // Charges that arrived while this ran; later ones are refunded by duplicateChargeWorkflow.
  for (let i = 1; i < payments.length; i++) {
    const duplicate = payments[i]!.paymentIntentId;
    await stripe.refundDuplicateCharge({ purchaseId: input.purchaseId, paymentIntentId: duplicate });
    progress.duplicatesRefunded.push(duplicate);
  }
  return {
    status: 'completed',
    paymentIntentId: paid.paymentIntentId,
    duplicatesRefunded: progress.duplicatesRefunded,
  };
}

/** A successful charge for a purchase that was already credited: refund it. */
export async function duplicateChargeWorkflow(input: {
  purchaseId: string;
  paymentIntentId: string;
}): Promise<void> {
  await stripe.refundDuplicateCharge(input);
}

/** The credited payment was refunded in Stripe: mark the purchase refunded, take the credits back. */
export async function purchaseRefundedWorkflow(input: {
  purchaseId: string;
  paymentIntentId: string;
}): Promise<void> {
  await ledger.reversePurchaseCredits(input);
}

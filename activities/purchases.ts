import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import type { BalanceEvents } from '../app/balance-events';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import {
  attachCheckoutSession,
  claimRefundStep,
  findPurchase,
  findRefund,
  insertPurchase,
  markPurchaseClosed,
  markPurchaseCompleted,
  recordRefund,
  settleRefundStep,
} from '../db/purchases';
import { findUserById } from '../db/users';
import { formatCredits, formatMoney, InsufficientCredits, NotFound } from '../domain';
import type { PurchaseStatus } from '../domain/purchases';
import type { Mailer } from '../mail/mailer';
import type { PurchaseInput } from '../workflows/messages';
import { checkoutSessionSchema, idOf, paymentIntentSchema, refundSchema } from './stripe-objects';

export interface PurchaseActivityDeps {
  sql: Sql;
  ledger: Ledger;
  stripe: Stripe;
  mailer: Mailer;
  /** A credited purchase is a balance event: it wakes the user's paused projects. */
  balanceEvents: Pick<BalanceEvents, 'credited'>;
}

/**
 * The purchase saga's side effects. Each is idempotent: Stripe calls carry an idempotency key
 * derived from the purchase (or payment), database writes are conditional, the ledger credit is
 * keyed by the Checkout Session, so a retried or replayed activity never does anything twice.
 */
export function createPurchaseActivities(deps: PurchaseActivityDeps) {
  return {
    async createPurchaseRecord(input: PurchaseInput): Promise<void> {
      await insertPurchase(deps.sql, {
        id: input.purchaseId,
        userId: input.userId,
        packageId: input.packageId,
        credits: input.credits,
        priceCents: input.priceCents,
        currency: input.currency,
      });
    },

    async createCheckoutSession(input: PurchaseInput): Promise<{ sessionId: string; checkoutUrl: string }> {
      const metadata = { purchaseId: input.purchaseId, userId: input.userId, packageId: input.packageId };
      const created = await deps.stripe.checkout.sessions.create(
        {
          mode: 'payment',
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: input.currency,
                unit_amount: input.priceCents,
                product_data: { name: `${input.packageName} (${formatCredits(input.credits)} credits)` },
              },
            },
          ],
          success_url: input.successUrl,
          cancel_url: input.cancelUrl,
          client_reference_id: input.purchaseId,
          customer_email: input.email,
          expires_at: input.expiresAt,
          metadata,
          // Stripe copies only these onto the payment: refunds and charge events find the purchase.
          payment_intent_data: { metadata },
        },
        { idempotencyKey: `checkout:${input.purchaseId}` },
      );
      const session = checkoutSessionSchema.parse(created);
      if (!session.url) throw new Error(`Stripe returned session ${session.id} without a url`);
      await attachCheckoutSession(deps.sql, input.purchaseId, { id: session.id, url: session.url });
      return { sessionId: session.id, checkoutUrl: session.url };
    },

    async pollCheckoutSession(input: {
      sessionId: string;
    }): Promise<{ status: 'open' | 'complete' | 'expired' | null; paymentIntentId: string | null }> {
      const session = checkoutSessionSchema.parse(
        await deps.stripe.checkout.sessions.retrieve(input.sessionId),
      );
      const paid = session.status === 'complete' && session.payment_status === 'paid';
      return { status: session.status, paymentIntentId: paid ? idOf(session.payment_intent) : null };
    },

    async creditPurchase(input: {
      purchaseId: string;
      userId: string;
      credits: number;
      sessionId: string;
      paymentIntentId: string;
    }): Promise<{ available: number }> {
      const result = await deps.ledger.credit({
        idempotencyKey: `purchase:${input.sessionId}`,
        userId: input.userId,
        amount: input.credits,
        from: 'purchases',
        bucket: 'purchased',
        kind: 'purchase',
        description: `purchase ${input.purchaseId}`,
      });
      await markPurchaseCompleted(deps.sql, input.purchaseId, input.paymentIntentId);
      return { available: result.availableAfter };
    },

    async closePurchase(input: {
      purchaseId: string;
      status: 'failed' | 'expired';
      reason: string;
    }): Promise<void> {
      await markPurchaseClosed(deps.sql, input.purchaseId, input.status, input.reason);
    },

    async announceTopUp(input: { userId: string; reason: 'purchase' }): Promise<number> {
      return deps.balanceEvents.credited(input);
    },

    async sendReceipt(input: { purchaseId: string }): Promise<{ sent: boolean }> {
      const purchase = await findPurchase(deps.sql, input.purchaseId);
      if (!purchase) throw new NotFound(`purchase ${input.purchaseId} not found`);
      const user = await findUserById(deps.sql, purchase.userId);
      if (!user) throw new NotFound(`user ${purchase.userId} not found`);
      const price = formatMoney(purchase.priceCents, purchase.currency);
      return deps.mailer.send({
        dedupeKey: `receipt:${purchase.id}`,
        userId: user.id,
        kind: 'receipt',
        recipient: user.email,
        subject: `Receipt: ${formatCredits(purchase.credits)} credits`,
        body: [
          'Thank you for your purchase.',
          `Package: ${purchase.packageId}`,
          `Credits: ${formatCredits(purchase.credits)}`,
          `Paid: ${price}`,
          `Purchase: ${purchase.id}`,
          `Payment: ${purchase.paymentIntentId ?? ''}`,
        ].join('\n'),
      });
    },

    async refundDuplicateCharge(input: { purchaseId: string; paymentIntentId: string }): Promise<void> {
      if (await findRefund(deps.sql, input.paymentIntentId)) return;
      const intent = paymentIntentSchema.parse(
        await deps.stripe.paymentIntents.retrieve(input.paymentIntentId),
      );
      const refund = refundSchema.parse(
        await deps.stripe.refunds.create(
          {
            payment_intent: input.paymentIntentId,
            reason: 'duplicate',
            metadata: { purchaseId: input.purchaseId },
          },
          { idempotencyKey: `duplicate-refund:${input.paymentIntentId}` },
        ),
      );
      await recordRefund(deps.sql, {
        id: randomUUID(),
        purchaseId: input.purchaseId,
        paymentIntentId: input.paymentIntentId,
        stripeRefundId: refund.id,
        amountCents: refund.amount || intent.amount,
        reason: 'duplicate_charge',
        creditsReversed: 0,
      });
    },

    /**
     * The credited payment was refunded in Stripe, `refundedThroughCents` in all so far (Stripe's
     * cumulative charge.amount_refunded): record the new refund step, move the purchase to
     * partially_refunded or refunded, and take back the step's share of the credits (DESIGN.md
     * §12) as far as the user still has them: spent credits cannot be un-spent, so the shortfall
     * stays recorded (credits due − credits reversed). A step is keyed by the payment and its
     * total, so a redelivered webhook or a retried activity never takes credits twice.
     */
    async takeBackRefundedCredits(input: {
      purchaseId: string;
      paymentIntentId: string;
      refundedThroughCents: number;
    }): Promise<RefundTakeBack> {
      const step = await claimRefundStep(deps.sql, input);
      if (!step) return { claimed: false, status: null, creditsDue: 0, creditsReversed: 0 };
      const reversed = await takeBackUpTo(deps.ledger, {
        idempotencyKey: `purchase-refund:${step.paymentIntentId}:${step.refundedThroughCents}`,
        userId: step.userId,
        credits: step.creditsDue,
        description: `refund of purchase ${step.purchaseId}`,
      });
      await settleRefundStep(deps.sql, step.id, reversed);
      return { claimed: true, status: step.status, creditsDue: step.creditsDue, creditsReversed: reversed };
    },

    /**
     * Kept for purchaseRefundedWorkflow runs started before partial refunds were handled: their
     * refund was taken as the whole payment. Same steps as takeBackRefundedCredits.
     */
    async reversePurchaseCredits(input: { purchaseId: string; paymentIntentId: string }): Promise<void> {
      const purchase = await findPurchase(deps.sql, input.purchaseId);
      if (!purchase) throw new NotFound(`purchase ${input.purchaseId} not found`);
      const step = await claimRefundStep(deps.sql, { ...input, refundedThroughCents: purchase.priceCents });
      if (!step) return;
      const reversed = await takeBackUpTo(deps.ledger, {
        idempotencyKey: `purchase-refund:${step.paymentIntentId}:${step.refundedThroughCents}`,
        userId: step.userId,
        credits: step.creditsDue,
        description: `refund of purchase ${step.purchaseId}`,
      });
      await settleRefundStep(deps.sql, step.id, reversed);
    },
  };
}

export type PurchaseActivities = ReturnType<typeof createPurchaseActivities>;

/** What one refund of a credited payment took back; `claimed: false` when it was already counted. */
export interface RefundTakeBack {
  claimed: boolean;
  status: PurchaseStatus | null;
  creditsDue: number;
  creditsReversed: number;
}

/**
 * Debits up to `credits` from the user, as many as they still have; returns how many. The key
 * alone names the take-back (fingerprint = key): a retry after the balance changed may ask for
 * less and still gets the first answer, so it never takes twice.
 */
async function takeBackUpTo(
  ledger: Ledger,
  input: { idempotencyKey: string; userId: string; credits: number; description: string },
): Promise<number> {
  if (input.credits <= 0) return 0;
  const take = async (amount: number) =>
    (
      await ledger.debit({
        idempotencyKey: input.idempotencyKey,
        fingerprint: input.idempotencyKey,
        userId: input.userId,
        amount,
        to: 'refunds',
        kind: 'purchase_refund',
        description: input.description,
      })
    ).amount;
  try {
    return await take(input.credits);
  } catch (error) {
    if (!(error instanceof InsufficientCredits)) throw error;
    return error.available > 0 ? take(error.available) : 0;
  }
}

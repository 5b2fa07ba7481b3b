import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import type { BalanceEvents } from '../app/balance-events';
import { saveCardOfPayment } from '../app/customers';
import type { EarningSettings } from '../app/earning-settings';
import { creditPurchase, reversePurchaseCredits, takeBackRefundedCredits } from '../app/purchase-payments';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import {
  attachCheckoutSession,
  findPurchase,
  findRefund,
  insertPurchase,
  markPurchaseClosed,
  recordRefund,
} from '../db/purchases';
import { findUserById } from '../db/users';
import { formatCredits, formatMoney, NotFound } from '../domain';
import type { Mailer } from '../mail/mailer';
import type { PurchaseInput } from '../workflows/messages';
import {
  cardFingerprintOf,
  checkoutSessionSchema,
  idOf,
  paymentIntentSchema,
  paymentIntentWithChargeSchema,
  refundSchema,
} from './stripe-objects';
import type { InputOf } from './use-case-input';

export interface PurchaseActivityDeps {
  sql: Sql;
  ledger: Ledger;
  stripe: Stripe;
  mailer: Mailer;
  /** A credited purchase wakes the user's paused projects; a refund's take-back may cross the low-balance threshold. */
  balanceEvents: BalanceEvents;
  /** A referee's first purchase pays their referrer a reward (app/referrals.ts). */
  earning: EarningSettings;
}

/**
 * The purchase saga's side effects. Each is idempotent: Stripe calls carry an idempotency key
 * derived from the purchase (or payment), database writes are conditional, the ledger credit is
 * keyed by the Checkout Session, so a retried or replayed activity never does anything twice.
 */
export function createPurchaseActivities(deps: PurchaseActivityDeps) {
  // The money steps (app/purchase-payments.ts) read the paying card through this, not Stripe itself.
  const payments = {
    ...deps,
    cardFingerprint: async (paymentIntentId: string) =>
      cardFingerprintOf(
        paymentIntentWithChargeSchema.parse(
          await deps.stripe.paymentIntents.retrieve(paymentIntentId, { expand: ['latest_charge'] }),
        ),
      ),
    saveCard: (input: { userId: string; paymentIntentId: string }) => saveCardOfPayment(deps, input),
  };
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
          // The buyer's Customer, when known: the card is saved to it for off-session top-ups
          // (the buyer's consent is Checkout's setup_future_usage notice). Stripe takes one or the other.
          ...(input.customerId ? { customer: input.customerId } : { customer_email: input.email }),
          expires_at: input.expiresAt,
          metadata,
          // Stripe copies only these onto the payment: refunds and charge events find the purchase.
          payment_intent_data: input.customerId
            ? { metadata, setup_future_usage: 'off_session' }
            : { metadata },
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

    creditPurchase: (input: InputOf<typeof creditPurchase>) => creditPurchase(payments, input),

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

    takeBackRefundedCredits: (input: InputOf<typeof takeBackRefundedCredits>) =>
      takeBackRefundedCredits(payments, input),

    /** Kept for purchaseRefundedWorkflow runs started before partial refunds were handled. */
    reversePurchaseCredits: (input: InputOf<typeof reversePurchaseCredits>) =>
      reversePurchaseCredits(payments, input),
  };
}

export type PurchaseActivities = ReturnType<typeof createPurchaseActivities>;
export type { RefundTakeBack } from '../app/purchase-payments';

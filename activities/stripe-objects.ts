/** zod views of the Stripe responses this project reads: parsed at the edge, trusted inside. */
import { z } from 'zod';

const expandable = z.union([z.string(), z.object({ id: z.string() }).loose()]).nullable();

export function idOf(value: z.infer<typeof expandable> | undefined): string | null {
  if (!value) return null;
  return typeof value === 'string' ? value : value.id;
}

export const checkoutSessionSchema = z
  .object({
    id: z.string(),
    url: z.string().nullable(),
    status: z.enum(['open', 'complete', 'expired']).nullable(),
    payment_status: z.enum(['paid', 'unpaid', 'no_payment_required']),
    payment_intent: expandable.optional(),
    metadata: z.record(z.string(), z.string()).nullable().optional(),
  })
  .loose();

export const paymentIntentSchema = z
  .object({ id: z.string(), amount: z.number().int(), amount_received: z.number().int().optional() })
  .loose();

/**
 * A payment intent retrieved with `expand: ['latest_charge']`: the charge's card fingerprint
 * (the same for every payment with one card number) is what the referral check compares.
 */
const chargeCardSchema = z.object({ fingerprint: z.string().min(1).nullish() }).loose();
const expandedChargeSchema = z
  .object({
    id: z.string(),
    payment_method_details: z.object({ card: chargeCardSchema.nullish() }).loose().nullish(),
  })
  .loose();

export const paymentIntentWithChargeSchema = z
  .object({ id: z.string(), latest_charge: z.union([z.string(), expandedChargeSchema]).nullish() })
  .loose();

/** The paying card's fingerprint, when the charge was expanded and paid by card. */
export function cardFingerprintOf(intent: z.infer<typeof paymentIntentWithChargeSchema>): string | null {
  const charge = intent.latest_charge;
  if (!charge || typeof charge === 'string') return null;
  return charge.payment_method_details?.card?.fingerprint ?? null;
}

export const refundSchema = z
  .object({ id: z.string(), amount: z.number().int(), status: z.string().nullable() })
  .loose();

/** The events the webhook acts on; everything else is acknowledged and ignored. */
export const webhookEventSchema = z
  .object({
    id: z.string().min(1),
    type: z.string().min(1),
    data: z.object({ object: z.record(z.string(), z.unknown()) }).loose(),
  })
  .loose();

export const chargeSchema = z
  .object({
    id: z.string(),
    payment_intent: expandable.optional(),
    amount_refunded: z.number().int(),
    refunded: z.boolean(),
  })
  .loose();

// ── Saved cards, off-session payments, the customer portal (DESIGN.md §13) ──────────────────────

export const customerSchema = z.object({ id: z.string().min(1) }).loose();

const paymentMethodCardSchema = z
  .object({
    id: z.string().min(1),
    customer: z.string().nullish(),
    card: z
      .object({ brand: z.string().min(1), last4: z.string().regex(/^\d{4}$/) })
      .loose()
      .nullish(),
  })
  .loose();

/** A payment intent retrieved with `expand: ['payment_method']`: the card Checkout saved. */
export const paymentIntentWithMethodSchema = z
  .object({
    id: z.string(),
    customer: expandable.optional(),
    setup_future_usage: z.string().nullish(),
    payment_method: z.union([z.string(), paymentMethodCardSchema]).nullish(),
  })
  .loose();

export function savedCardOf(
  intent: z.infer<typeof paymentIntentWithMethodSchema>,
): { paymentMethodId: string; customerId: string | null; brand: string; last4: string } | null {
  const method = intent.payment_method;
  if (!method || typeof method === 'string' || !method.card) return null;
  return {
    paymentMethodId: method.id,
    customerId: method.customer ?? null,
    brand: method.card.brand,
    last4: method.card.last4,
  };
}

/** Stripe's payment intent statuses, as far as an off-session charge can end up in them. */
export const offSessionIntentSchema = z
  .object({
    id: z.string().min(1),
    status: z.enum([
      'succeeded',
      'processing',
      'requires_payment_method',
      'requires_action',
      'requires_confirmation',
      'requires_capture',
      'canceled',
    ]),
    amount: z.number().int(),
    last_payment_error: z
      .object({ code: z.string().nullish(), message: z.string().nullish() })
      .loose()
      .nullish(),
  })
  .loose();

export const portalSessionSchema = z.object({ id: z.string(), url: z.url() }).loose();

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

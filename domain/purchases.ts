/**
 * A purchase's status and refund arithmetic, as the workflow, the database and the API all use
 * them (DESIGN.md §6, §9, §12). Deterministic: workflows import it.
 */
export const PURCHASE_STATUSES = [
  'pending',
  'completed',
  'failed',
  'expired',
  'partially_refunded',
  'refunded',
] as const;
export type PurchaseStatus = (typeof PURCHASE_STATUSES)[number];

/** Where one run of the purchase saga ends; refunds come later, from Stripe. */
export type PurchaseOutcomeStatus = Extract<PurchaseStatus, 'completed' | 'failed' | 'expired'>;

/**
 * The credits a payment refunded up to `refundedCents` (cumulative, as Stripe's
 * `charge.amount_refunded`) calls back: floor(credits × refunded / price), all of them once the
 * whole price is refunded. A refund increment takes back `creditsForRefundedCents(new) −
 * creditsForRefundedCents(before)`: for one refund that is floor(credits × cents / price), and
 * however a price is refunded in parts, the parts add up to exactly the purchase's credits.
 */
export function creditsForRefundedCents(credits: number, priceCents: number, refundedCents: number): number {
  const refunded = Math.min(Math.max(0, refundedCents), priceCents);
  return Math.floor((credits * refunded) / priceCents);
}

/**
 * An operator's refund of a purchase's unused credits (DESIGN.md §12): why it was made, and where
 * it stands. `pending` from the request until Stripe has answered and the held credits are
 * posted (`succeeded`) or released (`failed`, with Stripe's reason).
 */
export const OPERATOR_REFUND_REASONS = ['unused', 'technical_issue', 'duplicate', 'other'] as const;
export type OperatorRefundReason = (typeof OPERATOR_REFUND_REASONS)[number];
export const OPERATOR_REFUND_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type OperatorRefundStatus = (typeof OPERATOR_REFUND_STATUSES)[number];

/**
 * The money an operator refund of `refundCredits` of a purchase gives back:
 * floor(credits × priceCents / packageCredits), in minor units. BigInt, because credits × price
 * may pass 2^53 for a large custom package long before either factor does.
 */
export function refundCentsForCredits(
  refundCredits: number,
  packageCredits: number,
  priceCents: number,
): number {
  const credits = Math.min(Math.max(0, refundCredits), packageCredits);
  return Number((BigInt(credits) * BigInt(priceCents)) / BigInt(packageCredits));
}

/**
 * A dispute of a credited payment as this system tracks it: `open` from charge.dispute.created
 * (Stripe's needs_response, under_review, …) until Stripe closes it `won` or `lost`.
 */
export const DISPUTE_STATUSES = ['open', 'won', 'lost'] as const;
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number];

/**
 * Another refund step of the same payment is between its claim and Stripe's answer (an operator
 * refund, db/refunds.ts): a step's cumulative total can only be judged once that one is settled
 * or withdrawn, so the caller tries again shortly. Deliberately not a DomainError: activities
 * retry it (it is not in NON_RETRYABLE_ERRORS).
 */
export class RefundInFlight extends Error {
  constructor(paymentIntentId: string) {
    super(`a refund of payment ${paymentIntentId} is being made in Stripe: try again when it has settled`);
    this.name = 'RefundInFlight';
  }
}

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

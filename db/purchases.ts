import { creditsForRefundedCents, type PurchaseStatus, RefundInFlight } from '../domain/purchases';
import { uuidFromSeed } from './ids';
import type { Sql } from './pool';

export { PURCHASE_STATUSES, type PurchaseStatus } from '../domain/purchases';

export interface Purchase {
  id: string;
  userId: string;
  packageId: string;
  credits: number;
  priceCents: number;
  currency: string;
  status: PurchaseStatus;
  checkoutSessionId: string | null;
  checkoutUrl: string | null;
  paymentIntentId: string | null;
  failureReason: string | null;
  createdAt: string;
  completedAt: string | null;
  /** `auto_top_up`: made off-session on the saved card by auto top-up (db/auto-top-up.ts). */
  origin: 'checkout' | 'auto_top_up';
  /** What has been refunded so far (Stripe Dashboard and operator refunds); listPurchases only. */
  refunded?: { credits: number; amountCents: number } | undefined;
}

interface PurchaseRow {
  id: string;
  user_id: string;
  package_id: string;
  credits: number;
  price_cents: number;
  currency: string;
  status: PurchaseStatus;
  checkout_session_id: string | null;
  checkout_url: string | null;
  payment_intent_id: string | null;
  failure_reason: string | null;
  created_at: Date;
  completed_at: Date | null;
  origin: 'checkout' | 'auto_top_up';
  refunded_credits?: number;
  refunded_cents?: number;
}

function toPurchase(r: PurchaseRow): Purchase {
  return {
    id: r.id,
    userId: r.user_id,
    packageId: r.package_id,
    credits: r.credits,
    priceCents: r.price_cents,
    currency: r.currency,
    status: r.status,
    checkoutSessionId: r.checkout_session_id,
    checkoutUrl: r.checkout_url,
    paymentIntentId: r.payment_intent_id,
    failureReason: r.failure_reason,
    createdAt: r.created_at.toISOString(),
    completedAt: r.completed_at?.toISOString() ?? null,
    origin: r.origin,
    ...(r.refunded_credits !== undefined
      ? { refunded: { credits: r.refunded_credits, amountCents: r.refunded_cents ?? 0 } }
      : {}),
  };
}

/** Idempotent: a retried activity finds the row it created. */
export async function insertPurchase(
  sql: Sql,
  p: { id: string; userId: string; packageId: string; credits: number; priceCents: number; currency: string },
): Promise<Purchase> {
  await sql`
    INSERT INTO purchases (id, user_id, package_id, credits, price_cents, currency)
    VALUES (${p.id}, ${p.userId}, ${p.packageId}, ${p.credits}, ${p.priceCents}, ${p.currency})
    ON CONFLICT (id) DO NOTHING`;
  return (await findPurchase(sql, p.id))!;
}

export async function findPurchase(sql: Sql, id: string): Promise<Purchase | null> {
  const [row] = await sql<PurchaseRow[]>`SELECT * FROM purchases WHERE id = ${id}`;
  return row ? toPurchase(row) : null;
}

export async function findPurchaseByPaymentIntent(
  sql: Sql,
  paymentIntentId: string,
): Promise<Purchase | null> {
  const [row] = await sql<
    PurchaseRow[]
  >`SELECT * FROM purchases WHERE payment_intent_id = ${paymentIntentId}`;
  return row ? toPurchase(row) : null;
}

export async function listPurchases(sql: Sql, userId: string, limit: number): Promise<Purchase[]> {
  // The refunded totals count settled refund steps of the credited payment (an operator refund
  // Stripe has not answered yet is not a refund yet).
  const rows = await sql<PurchaseRow[]>`
    SELECT p.*, r.credits AS refunded_credits, r.cents AS refunded_cents FROM purchases p
    CROSS JOIN LATERAL (
      SELECT coalesce(sum(credits_due), 0)::bigint AS credits, coalesce(sum(amount_cents), 0)::bigint AS cents
      FROM purchase_refunds
      WHERE purchase_id = p.id AND reason IN ('purchase_refunded', 'operator_refund') AND NOT in_flight) r
    WHERE p.user_id = ${userId} ORDER BY p.created_at DESC, p.id LIMIT ${limit}`;
  return rows.map(toPurchase);
}

export async function attachCheckoutSession(
  sql: Sql,
  id: string,
  session: { id: string; url: string | null },
): Promise<void> {
  await sql`
    UPDATE purchases SET checkout_session_id = ${session.id}, checkout_url = ${session.url}
    WHERE id = ${id} AND checkout_session_id IS NULL`;
}

/** pending → completed with the payment that paid it; a second call changes nothing. */
export async function markPurchaseCompleted(sql: Sql, id: string, paymentIntentId: string): Promise<void> {
  await sql`
    UPDATE purchases SET status = 'completed', payment_intent_id = ${paymentIntentId}, completed_at = now()
    WHERE id = ${id} AND status = 'pending'`;
}

/** pending → failed | expired; a purchase that completed meanwhile stays completed. */
export async function markPurchaseClosed(
  sql: Sql,
  id: string,
  status: 'failed' | 'expired',
  reason: string,
): Promise<void> {
  await sql`
    UPDATE purchases SET status = ${status}, failure_reason = ${reason}
    WHERE id = ${id} AND status = 'pending'`;
}

/** Stores a Stripe event once; false when it was stored before (a redelivery). */
export async function storeStripeEvent(
  sql: Sql,
  event: { id: string; type: string; payload: unknown },
): Promise<boolean> {
  const rows = await sql`
    INSERT INTO stripe_events (id, type, payload) VALUES (${event.id}, ${event.type}, ${sql.json(event.payload as never)})
    ON CONFLICT (id) DO NOTHING RETURNING id`;
  return rows.length === 1;
}

export interface PurchaseRefund {
  purchaseId: string;
  paymentIntentId: string;
  stripeRefundId: string | null;
  /** What this refund gave back, in minor units. */
  amountCents: number;
  /** The payment's refunded total after this refund (Stripe's cumulative charge.amount_refunded). */
  refundedThroughCents: number;
  /** operator_refund: made by an operator (db/refunds.ts), recorded here as a step of the payment. */
  reason: 'duplicate_charge' | 'purchase_refunded' | 'operator_refund';
  /** The credits this refund calls back (its share of the purchase's credits; 0 for a duplicate). */
  creditsDue: number;
  /** The credits taken back: at most what the user still had. */
  creditsReversed: number;
  /** Credits due that were already spent and could not be taken back. */
  creditsShortfall: number;
  createdAt: string;
}

/** A duplicate charge refunded in full (one row per payment: a retry finds it). */
export async function recordRefund(
  sql: Sql,
  r: Omit<PurchaseRefund, 'createdAt' | 'refundedThroughCents' | 'creditsDue' | 'creditsShortfall'> & {
    id: string;
  },
): Promise<void> {
  await sql`
    INSERT INTO purchase_refunds (id, purchase_id, payment_intent_id, stripe_refund_id, amount_cents,
                                  refunded_through_cents, reason, credits_due, credits_reversed)
    VALUES (${r.id}, ${r.purchaseId}, ${r.paymentIntentId}, ${r.stripeRefundId}, ${r.amountCents},
            ${r.amountCents}, ${r.reason}, ${r.creditsReversed}, ${r.creditsReversed})
    ON CONFLICT (payment_intent_id, refunded_through_cents) DO NOTHING`;
}

interface RefundRow {
  id: string;
  purchase_id: string;
  payment_intent_id: string;
  stripe_refund_id: string | null;
  amount_cents: number;
  refunded_through_cents: number;
  reason: 'duplicate_charge' | 'purchase_refunded' | 'operator_refund';
  credits_due: number;
  credits_reversed: number;
  created_at: Date;
}

function toRefund(row: RefundRow): PurchaseRefund {
  return {
    purchaseId: row.purchase_id,
    paymentIntentId: row.payment_intent_id,
    stripeRefundId: row.stripe_refund_id,
    amountCents: row.amount_cents,
    refundedThroughCents: row.refunded_through_cents,
    reason: row.reason,
    creditsDue: row.credits_due,
    creditsReversed: row.credits_reversed,
    creditsShortfall: row.credits_due - row.credits_reversed,
    createdAt: row.created_at.toISOString(),
  };
}

/** The first refund recorded for a payment, if any. */
export async function findRefund(sql: Sql, paymentIntentId: string): Promise<PurchaseRefund | null> {
  const [row] = await sql<RefundRow[]>`
    SELECT * FROM purchase_refunds WHERE payment_intent_id = ${paymentIntentId}
    ORDER BY refunded_through_cents LIMIT 1`;
  return row ? toRefund(row) : null;
}

export async function listRefunds(sql: Sql, purchaseId: string): Promise<PurchaseRefund[]> {
  // An operator refund's step is listed once Stripe has made it (before, it may still fail).
  const rows = await sql<RefundRow[]>`
    SELECT * FROM purchase_refunds WHERE purchase_id = ${purchaseId} AND NOT in_flight
    ORDER BY created_at, refunded_through_cents`;
  return rows.map(toRefund);
}

/**
 * How much of a credited payment's refunds this system has already accounted for (minor units),
 * operator refunds included once Stripe has made them: one still in flight may yet fail, and a
 * total it seems to cover must still reach claimRefundStep (which waits for it).
 */
export async function refundedThroughCents(sql: Sql, paymentIntentId: string): Promise<number> {
  const [row] = await sql<{ through: number }[]>`
    SELECT coalesce(max(refunded_through_cents), 0)::bigint AS through FROM purchase_refunds
    WHERE payment_intent_id = ${paymentIntentId} AND reason IN ('purchase_refunded', 'operator_refund')
      AND NOT in_flight`;
  return row?.through ?? 0;
}

/** One refund of a credited payment, as claimed: what it gave back and what it calls back. */
export interface RefundStep {
  id: string;
  purchaseId: string;
  userId: string;
  paymentIntentId: string;
  amountCents: number;
  refundedThroughCents: number;
  creditsDue: number;
  creditsReversed: number;
  status: PurchaseStatus;
}

/**
 * Records that the credited payment of `purchaseId` is now refunded up to `refundedThroughCents`
 * (Stripe's cumulative amount_refunded) and moves the purchase to partially_refunded or refunded.
 * The step is the increment over what was recorded before: its credits due are the purchase's
 * credits in proportion (domain/purchases.ts), less what earlier steps already called back
 * (operator refunds' steps count their own credits, so the parts never add up to more than the
 * purchase). While an operator refund of the payment is in flight (claimed, Stripe not yet
 * answered) this throws RefundInFlight, retried by the activity: the total this event names may
 * be that refund's, or not, depending on how Stripe answers. Serialised per purchase by a row lock, so two
 * refunds arriving together each claim their own increment; a total at or below what is already
 * recorded (a redelivery, an out-of-order event) claims nothing and returns null, unless it is
 * exactly an earlier step, which is returned as it was (a retried activity finishes its step).
 */
export async function claimRefundStep(
  sql: Sql,
  input: { purchaseId: string; paymentIntentId: string; refundedThroughCents: number },
): Promise<RefundStep | null> {
  return sql.begin(async (tx) => {
    const [purchase] = await tx<{ user_id: string; credits: number; price_cents: number }[]>`
      SELECT user_id, credits, price_cents FROM purchases
      WHERE id = ${input.purchaseId} AND payment_intent_id = ${input.paymentIntentId}
      FOR UPDATE`;
    if (!purchase) return null;
    const [inFlight] = await tx`
      SELECT 1 FROM purchase_refunds WHERE payment_intent_id = ${input.paymentIntentId} AND in_flight`;
    if (inFlight) throw new RefundInFlight(input.paymentIntentId);
    const through = Math.min(input.refundedThroughCents, purchase.price_cents);
    const [existing] = await tx<(RefundRow & { status: PurchaseStatus })[]>`
      SELECT r.*, p.status FROM purchase_refunds r JOIN purchases p ON p.id = r.purchase_id
      WHERE r.payment_intent_id = ${input.paymentIntentId} AND r.refunded_through_cents = ${through}
        AND r.reason = 'purchase_refunded'`;
    if (existing) return toStep(existing, purchase.user_id);
    const [recorded] = await tx<{ through: number; due: number }[]>`
      SELECT coalesce(max(refunded_through_cents), 0)::bigint AS through,
             coalesce(sum(credits_due), 0)::bigint AS due
      FROM purchase_refunds
      WHERE payment_intent_id = ${input.paymentIntentId} AND reason IN ('purchase_refunded', 'operator_refund')`;
    const before = recorded?.through ?? 0;
    if (through <= before) return null;
    // With Dashboard steps only, the earlier dues add up to due(before), so this is
    // due(through) − due(before); an operator step counts the credits it really took.
    const dueBefore = recorded?.due ?? 0;
    const due = (cents: number) => creditsForRefundedCents(purchase.credits, purchase.price_cents, cents);
    const status: PurchaseStatus = through >= purchase.price_cents ? 'refunded' : 'partially_refunded';
    const [row] = await tx<RefundRow[]>`
      INSERT INTO purchase_refunds (id, purchase_id, payment_intent_id, amount_cents, refunded_through_cents,
                                    reason, credits_due, credits_reversed)
      VALUES (${uuidFromSeed(`purchase-refund:${input.paymentIntentId}:${through}`)}, ${input.purchaseId},
              ${input.paymentIntentId}, ${through - before}, ${through}, 'purchase_refunded',
              ${Math.max(0, due(through) - dueBefore)}, 0)
      RETURNING *`;
    await tx`
      UPDATE purchases SET status = ${status}
      WHERE id = ${input.purchaseId} AND status IN ('completed', 'partially_refunded') AND status <> ${status}`;
    return toStep({ ...row!, status }, purchase.user_id);
  });
}

function toStep(row: RefundRow & { status: PurchaseStatus }, userId: string): RefundStep {
  return {
    id: row.id,
    purchaseId: row.purchase_id,
    userId,
    paymentIntentId: row.payment_intent_id,
    amountCents: row.amount_cents,
    refundedThroughCents: row.refunded_through_cents,
    creditsDue: row.credits_due,
    creditsReversed: row.credits_reversed,
    status: row.status,
  };
}

/** The credits a claimed step actually took back (what the user still had, at most its due). */
export async function settleRefundStep(sql: Sql, id: string, creditsReversed: number): Promise<void> {
  await sql`UPDATE purchase_refunds SET credits_reversed = ${creditsReversed} WHERE id = ${id}`;
}

/** The paying card's fingerprint recorded for a purchase (db/migrations/013), or null. */
export async function findCardFingerprint(sql: Sql, purchaseId: string): Promise<string | null> {
  const [row] = await sql<{ card_fingerprint: string | null }[]>`
    SELECT card_fingerprint FROM purchases WHERE id = ${purchaseId}`;
  return row?.card_fingerprint ?? null;
}

/** Records the paying card's fingerprint once (a retry finds it set and changes nothing). */
export async function recordCardFingerprint(
  sql: Sql,
  purchaseId: string,
  fingerprint: string,
): Promise<void> {
  await sql`
    UPDATE purchases SET card_fingerprint = ${fingerprint}
    WHERE id = ${purchaseId} AND card_fingerprint IS NULL`;
}

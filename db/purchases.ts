import type { Sql } from './pool';

export const PURCHASE_STATUSES = ['pending', 'completed', 'failed', 'expired', 'refunded'] as const;
export type PurchaseStatus = (typeof PURCHASE_STATUSES)[number];

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
  const rows = await sql<PurchaseRow[]>`
    SELECT * FROM purchases WHERE user_id = ${userId} ORDER BY created_at DESC, id LIMIT ${limit}`;
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

export async function markPurchaseRefunded(sql: Sql, id: string): Promise<void> {
  await sql`UPDATE purchases SET status = 'refunded' WHERE id = ${id} AND status = 'completed'`;
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
  amountCents: number;
  reason: 'duplicate_charge' | 'purchase_refunded';
  creditsReversed: number;
  createdAt: string;
}

export async function recordRefund(
  sql: Sql,
  r: Omit<PurchaseRefund, 'createdAt'> & { id: string },
): Promise<void> {
  await sql`
    INSERT INTO purchase_refunds (id, purchase_id, payment_intent_id, stripe_refund_id, amount_cents, reason, credits_reversed)
    VALUES (${r.id}, ${r.purchaseId}, ${r.paymentIntentId}, ${r.stripeRefundId}, ${r.amountCents}, ${r.reason}, ${r.creditsReversed})
    ON CONFLICT (payment_intent_id) DO NOTHING`;
}

interface RefundRow {
  purchase_id: string;
  payment_intent_id: string;
  stripe_refund_id: string | null;
  amount_cents: number;
  reason: 'duplicate_charge' | 'purchase_refunded';
  credits_reversed: number;
  created_at: Date;
}

function toRefund(row: RefundRow): PurchaseRefund {
  return {
    purchaseId: row.purchase_id,
    paymentIntentId: row.payment_intent_id,
    stripeRefundId: row.stripe_refund_id,
    amountCents: row.amount_cents,
    reason: row.reason,
    creditsReversed: row.credits_reversed,
    createdAt: row.created_at.toISOString(),
  };
}

export async function findRefund(sql: Sql, paymentIntentId: string): Promise<PurchaseRefund | null> {
  const [row] = await sql<
    RefundRow[]
  >`SELECT * FROM purchase_refunds WHERE payment_intent_id = ${paymentIntentId}`;
  return row ? toRefund(row) : null;
}

export async function listRefunds(sql: Sql, purchaseId: string): Promise<PurchaseRefund[]> {
  const rows = await sql<RefundRow[]>`
    SELECT * FROM purchase_refunds WHERE purchase_id = ${purchaseId} ORDER BY created_at`;
  return rows.map(toRefund);
}

import type { OperatorRefundReason, OperatorRefundStatus, PurchaseStatus } from '../domain/purchases';
import { RefundInFlight } from '../domain/purchases';
import type { Sql, Tx } from './pool';

export { OPERATOR_REFUND_REASONS, OPERATOR_REFUND_STATUSES } from '../domain/purchases';

/**
 * Operator refunds (db/migrations/017): one row per refund, and its refund step in
 * purchase_refunds. The step is what keeps Stripe's own announcement of the refund
 * (charge.refunded) from taking the credits a second time: it claims the cumulative total Stripe
 * will report before Stripe is asked (claimOperatorRefundStep), and it is in flight until Stripe
 * has answered, which makes the Dashboard path wait (db/purchases.ts claimRefundStep).
 */
export interface OperatorRefund {
  id: string;
  purchaseId: string;
  userId: string;
  credits: number;
  amountCents: number;
  currency: string;
  reason: OperatorRefundReason;
  status: OperatorRefundStatus;
  holdId: string;
  stripeRefundId: string | null;
  failureReason: string | null;
  createdAt: string;
  completedAt: string | null;
}

interface OperatorRefundRow {
  id: string;
  purchase_id: string;
  user_id: string;
  credits: number;
  amount_cents: number;
  currency: string;
  reason: OperatorRefundReason;
  status: OperatorRefundStatus;
  hold_id: string;
  stripe_refund_id: string | null;
  failure_reason: string | null;
  created_at: Date;
  completed_at: Date | null;
}

function toRefund(r: OperatorRefundRow): OperatorRefund {
  return {
    id: r.id,
    purchaseId: r.purchase_id,
    userId: r.user_id,
    credits: r.credits,
    amountCents: r.amount_cents,
    currency: r.currency,
    reason: r.reason,
    status: r.status,
    holdId: r.hold_id,
    stripeRefundId: r.stripe_refund_id,
    failureReason: r.failure_reason,
    createdAt: r.created_at.toISOString(),
    completedAt: r.completed_at?.toISOString() ?? null,
  };
}

export async function findOperatorRefund(sql: Sql | Tx, id: string): Promise<OperatorRefund | null> {
  const [row] = await sql<OperatorRefundRow[]>`SELECT * FROM operator_refunds WHERE id = ${id}`;
  return row ? toRefund(row) : null;
}

/** The operator's list, newest first, by status and/or purchase. */
export async function listOperatorRefunds(
  sql: Sql,
  filter: { status?: OperatorRefundStatus | undefined; purchaseId?: string | undefined; limit: number },
): Promise<OperatorRefund[]> {
  const rows = await sql<OperatorRefundRow[]>`
    SELECT * FROM operator_refunds
    WHERE true
      ${filter.status ? sql`AND status = ${filter.status}` : sql``}
      ${filter.purchaseId ? sql`AND purchase_id = ${filter.purchaseId}` : sql``}
    ORDER BY created_at DESC, id LIMIT ${filter.limit}`;
  return rows.map(toRefund);
}

/**
 * What of the purchase is not yet called back by anything: its credits, and its price, less
 * Stripe Dashboard refund steps, operator refunds that are pending or made, and disputes that
 * are open or lost. Whether the user still has the credits unspent is the ledger's question.
 */
export async function purchaseLeft(
  sql: Sql | Tx,
  purchaseId: string,
): Promise<{ credits: number; cents: number }> {
  const [row] = await sql<{ credits: number; cents: number }[]>`
    SELECT (p.credits - d.credits - o.credits - x.credits)::bigint AS credits,
           (p.price_cents - d.cents - o.cents - x.cents)::bigint AS cents
    FROM purchases p,
      LATERAL (SELECT coalesce(sum(credits_due), 0) AS credits, coalesce(sum(amount_cents), 0) AS cents
               FROM purchase_refunds WHERE purchase_id = p.id AND reason = 'purchase_refunded') d,
      LATERAL (SELECT coalesce(sum(credits), 0) AS credits, coalesce(sum(amount_cents), 0) AS cents
               FROM operator_refunds WHERE purchase_id = p.id AND status IN ('pending', 'succeeded')) o,
      LATERAL (SELECT coalesce(sum(credits_due), 0) AS credits, coalesce(sum(amount_cents), 0) AS cents
               FROM disputes WHERE purchase_id = p.id AND status IN ('open', 'lost')) x
    WHERE p.id = ${purchaseId}`;
  return { credits: Math.max(0, row?.credits ?? 0), cents: Math.max(0, row?.cents ?? 0) };
}

/** The ledger's hold under this id, if any (a request retried after a crash finds its own). */
export async function findHold(sql: Sql, holdId: string): Promise<{ amount: number; status: string } | null> {
  const [row] = await sql<{ amount: number; status: string }[]>`
    SELECT amount, status FROM holds WHERE id = ${holdId}`;
  return row ?? null;
}

export type NewOperatorRefund = Omit<
  OperatorRefund,
  'status' | 'stripeRefundId' | 'failureReason' | 'createdAt' | 'completedAt'
>;

/**
 * Records the refund if the purchase still has its credits (purchaseLeft), judged under
 * the purchase's row lock: two operators refunding one purchase at once are serialised here, and
 * the second sees the first's credits gone. A row with this id already there is returned as it is.
 */
export async function insertOperatorRefund(
  sql: Sql,
  r: NewOperatorRefund,
): Promise<{ ok: true; created: boolean; refund: OperatorRefund } | { ok: false; creditsLeft: number }> {
  return sql.begin(async (tx) => {
    await tx`SELECT 1 FROM purchases WHERE id = ${r.purchaseId} FOR UPDATE`;
    const existing = await findOperatorRefund(tx, r.id);
    if (existing) return { ok: true as const, created: false, refund: existing };
    const left = await purchaseLeft(tx, r.purchaseId);
    if (r.credits > left.credits) return { ok: false as const, creditsLeft: left.credits };
    const [row] = await tx<OperatorRefundRow[]>`
      INSERT INTO operator_refunds (id, purchase_id, user_id, credits, amount_cents, currency, reason, hold_id)
      VALUES (${r.id}, ${r.purchaseId}, ${r.userId}, ${r.credits}, ${r.amountCents}, ${r.currency},
              ${r.reason}, ${r.holdId})
      RETURNING *`;
    return { ok: true as const, created: true, refund: toRefund(row!) };
  });
}

/**
 * Claims the refund's step of its payment before Stripe is asked: refunded_through_cents is
 * what this system has recorded so far plus the refund's amount, the cumulative total Stripe's
 * charge.refunded will name for it (a Dashboard refund not yet announced makes Stripe's total
 * larger, and that later, larger total then claims the difference as its own step). In flight
 * until settled or failed. One operator refund per payment is in flight at a time: while another
 * is, this throws RefundInFlight (the activity retries), because a failed one's step is deleted
 * and a total stacked on it would be wrong. Refused (ok: false) when Dashboard refunds recorded
 * since the request leave the purchase fewer credits than this refund takes. Idempotent.
 */
export async function claimOperatorRefundStep(
  sql: Sql,
  refundId: string,
): Promise<{ ok: true; refundedThroughCents: number } | { ok: false; reason: string }> {
  return sql.begin(async (tx) => {
    const refund = await findOperatorRefund(tx, refundId);
    if (!refund) return { ok: false as const, reason: `refund ${refundId} not found` };
    const [purchase] = await tx<{ credits: number; price_cents: number; payment_intent_id: string | null }[]>`
      SELECT credits, price_cents, payment_intent_id FROM purchases WHERE id = ${refund.purchaseId} FOR UPDATE`;
    const paymentIntentId = purchase?.payment_intent_id;
    if (!purchase || !paymentIntentId) return { ok: false as const, reason: 'the purchase was never paid' };
    const [mine] = await tx<{ refunded_through_cents: number }[]>`
      SELECT refunded_through_cents FROM purchase_refunds WHERE id = ${refundId}`;
    if (mine) return { ok: true as const, refundedThroughCents: mine.refunded_through_cents };
    if (refund.status !== 'pending')
      return { ok: false as const, reason: `refund ${refundId} is ${refund.status}` };
    const [other] = await tx`
      SELECT 1 FROM purchase_refunds WHERE payment_intent_id = ${paymentIntentId} AND in_flight`;
    if (other) throw new RefundInFlight(paymentIntentId);
    const [recorded] = await tx<{ through: number; due: number }[]>`
      SELECT coalesce(max(refunded_through_cents), 0)::bigint AS through,
             coalesce(sum(credits_due), 0)::bigint AS due
      FROM purchase_refunds
      WHERE payment_intent_id = ${paymentIntentId} AND reason IN ('purchase_refunded', 'operator_refund')`;
    const left = purchase.credits - (recorded?.due ?? 0);
    if (refund.credits > left)
      return {
        ok: false as const,
        reason: `credits: only ${Math.max(0, left)} credits of this purchase are still refundable (a refund was made in Stripe meanwhile)`,
      };
    const through = (recorded?.through ?? 0) + refund.amountCents;
    await tx`
      INSERT INTO purchase_refunds (id, purchase_id, payment_intent_id, amount_cents, refunded_through_cents,
                                    reason, credits_due, credits_reversed, in_flight)
      VALUES (${refundId}, ${refund.purchaseId}, ${paymentIntentId}, ${refund.amountCents}, ${through},
              'operator_refund', ${refund.credits}, 0, true)`;
    return { ok: true as const, refundedThroughCents: through };
  });
}

/** Stripe's refund id, once Stripe made it (a retried step then skips the call). */
export async function recordStripeRefund(sql: Sql, refundId: string, stripeRefundId: string): Promise<void> {
  await sql`
    UPDATE operator_refunds SET stripe_refund_id = ${stripeRefundId}
    WHERE id = ${refundId} AND stripe_refund_id IS NULL`;
}

/**
 * Stripe refunded and the credits left the user: the step is settled (no longer in flight, so
 * waiting Dashboard steps proceed), the purchase becomes partially_refunded or refunded (refunded
 * once the recorded refunds reach its price), the refund succeeded. Once.
 */
export async function settleOperatorRefund(
  sql: Sql,
  input: { refundId: string; stripeRefundId: string; creditsTaken: number },
): Promise<OperatorRefund> {
  return sql.begin(async (tx) => {
    const refund = (await findOperatorRefund(tx, input.refundId))!;
    const [purchase] = await tx<{ price_cents: number }[]>`
      SELECT price_cents FROM purchases WHERE id = ${refund.purchaseId} FOR UPDATE`;
    await tx`
      UPDATE purchase_refunds
      SET in_flight = false, stripe_refund_id = ${input.stripeRefundId}, credits_reversed = ${input.creditsTaken}
      WHERE id = ${input.refundId} AND in_flight`;
    const [recorded] = await tx<{ through: number }[]>`
      SELECT coalesce(max(r.refunded_through_cents), 0)::bigint AS through
      FROM purchase_refunds r JOIN purchases p ON p.payment_intent_id = r.payment_intent_id
      WHERE p.id = ${refund.purchaseId} AND r.reason IN ('purchase_refunded', 'operator_refund')
        AND NOT r.in_flight`;
    const status: PurchaseStatus =
      (recorded?.through ?? 0) >= purchase!.price_cents ? 'refunded' : 'partially_refunded';
    await tx`
      UPDATE purchases SET status = ${status}
      WHERE id = ${refund.purchaseId} AND status IN ('completed', 'partially_refunded') AND status <> ${status}`;
    const [row] = await tx<OperatorRefundRow[]>`
      UPDATE operator_refunds
      SET status = 'succeeded', stripe_refund_id = ${input.stripeRefundId}, completed_at = now()
      WHERE id = ${input.refundId} AND status = 'pending'
      RETURNING *`;
    return row ? toRefund(row) : (await findOperatorRefund(tx, input.refundId))!;
  });
}

/** Stripe refused: the claimed step is withdrawn (nothing was refunded), the refund failed with why. Once. */
export async function failOperatorRefundRow(
  sql: Sql,
  input: { refundId: string; reason: string },
): Promise<OperatorRefund> {
  return sql.begin(async (tx) => {
    const refund = (await findOperatorRefund(tx, input.refundId))!;
    await tx`SELECT 1 FROM purchases WHERE id = ${refund.purchaseId} FOR UPDATE`;
    await tx`DELETE FROM purchase_refunds WHERE id = ${input.refundId} AND in_flight`;
    const [row] = await tx<OperatorRefundRow[]>`
      UPDATE operator_refunds
      SET status = 'failed', failure_reason = ${input.reason.slice(0, 1000)}, completed_at = now()
      WHERE id = ${input.refundId} AND status = 'pending'
      RETURNING *`;
    return row ? toRefund(row) : (await findOperatorRefund(tx, input.refundId))!;
  });
}

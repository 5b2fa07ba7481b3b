import { creditsForRefundedCents, type DisputeStatus } from '../domain/purchases';
import type { Sql } from './pool';

export { DISPUTE_STATUSES, type DisputeStatus } from '../domain/purchases';

/**
 * Disputes of credited payments (db/migrations/017), one row per Stripe dispute, written by the
 * dispute workflow's steps (app/disputes.ts). Every update is conditional on the state it moves
 * from, so a retried step changes nothing twice.
 */
export interface Dispute {
  id: string;
  purchaseId: string;
  userId: string;
  paymentIntentId: string;
  amountCents: number;
  currency: string;
  reason: string | null;
  status: DisputeStatus;
  /** The disputed amount's share of the purchase's credits. */
  creditsDue: number;
  /** What the hold takes (what the user still had of creditsDue); null until planned. */
  creditsHeld: number | null;
  holdId: string;
  heldAt: string | null;
  escrowedAt: string | null;
  createdAt: string;
  closedAt: string | null;
}

interface DisputeRow {
  id: string;
  purchase_id: string;
  user_id: string;
  payment_intent_id: string;
  amount_cents: number;
  currency: string;
  reason: string | null;
  status: DisputeStatus;
  credits_due: number;
  credits_held: number | null;
  hold_id: string;
  held_at: Date | null;
  escrowed_at: Date | null;
  created_at: Date;
  closed_at: Date | null;
}

function toDispute(r: DisputeRow): Dispute {
  return {
    id: r.id,
    purchaseId: r.purchase_id,
    userId: r.user_id,
    paymentIntentId: r.payment_intent_id,
    amountCents: r.amount_cents,
    currency: r.currency,
    reason: r.reason,
    status: r.status,
    creditsDue: r.credits_due,
    creditsHeld: r.credits_held,
    holdId: r.hold_id,
    heldAt: r.held_at?.toISOString() ?? null,
    escrowedAt: r.escrowed_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
    closedAt: r.closed_at?.toISOString() ?? null,
  };
}

export async function findDispute(sql: Sql, id: string): Promise<Dispute | null> {
  const [row] = await sql<DisputeRow[]>`SELECT * FROM disputes WHERE id = ${id}`;
  return row ? toDispute(row) : null;
}

export async function listDisputes(sql: Sql, purchaseId: string): Promise<Dispute[]> {
  const rows = await sql<DisputeRow[]>`
    SELECT * FROM disputes WHERE purchase_id = ${purchaseId} ORDER BY created_at, id`;
  return rows.map(toDispute);
}

/** The operator's list, newest first. */
export async function listAllDisputes(
  sql: Sql,
  filter: { status?: DisputeStatus | undefined; limit: number },
): Promise<Dispute[]> {
  const rows = await sql<DisputeRow[]>`
    SELECT * FROM disputes ${filter.status ? sql`WHERE status = ${filter.status}` : sql``}
    ORDER BY created_at DESC, id LIMIT ${filter.limit}`;
  return rows.map(toDispute);
}

/**
 * Records the dispute once (a retried step finds it). Its credits due are the disputed amount's
 * share of the purchase's credits, at most what refunds have not already called back, decided
 * under the purchase's row lock (refund steps take the same lock).
 */
export async function insertDispute(
  sql: Sql,
  d: Pick<
    Dispute,
    'id' | 'purchaseId' | 'userId' | 'paymentIntentId' | 'amountCents' | 'currency' | 'reason' | 'holdId'
  >,
): Promise<Dispute> {
  return sql.begin(async (tx) => {
    const [purchase] = await tx<{ credits: number; price_cents: number }[]>`
      SELECT credits, price_cents FROM purchases WHERE id = ${d.purchaseId} FOR UPDATE`;
    const [existing] = await tx<DisputeRow[]>`SELECT * FROM disputes WHERE id = ${d.id}`;
    if (existing) return toDispute(existing);
    const [refunded] = await tx<{ due: number }[]>`
      SELECT coalesce(sum(credits_due), 0)::bigint AS due FROM purchase_refunds
      WHERE purchase_id = ${d.purchaseId} AND reason IN ('purchase_refunded', 'operator_refund')`;
    const share = creditsForRefundedCents(purchase!.credits, purchase!.price_cents, d.amountCents);
    const due = Math.max(0, Math.min(share, purchase!.credits - (refunded?.due ?? 0)));
    const [row] = await tx<DisputeRow[]>`
      INSERT INTO disputes (id, purchase_id, user_id, payment_intent_id, amount_cents, currency, reason,
                            credits_due, hold_id)
      VALUES (${d.id}, ${d.purchaseId}, ${d.userId}, ${d.paymentIntentId}, ${d.amountCents}, ${d.currency},
              ${d.reason}, ${due}, ${d.holdId})
      RETURNING *`;
    return toDispute(row!);
  });
}

/**
 * What the hold will take, written before it is taken, so a retried step repeats the very same
 * hold (the ledger then replays it). Lowered only while no hold was taken.
 */
export async function planDisputeHold(sql: Sql, id: string, credits: number): Promise<Dispute> {
  const [row] = await sql<DisputeRow[]>`
    UPDATE disputes SET credits_held = ${credits} WHERE id = ${id} AND held_at IS NULL RETURNING *`;
  return row ? toDispute(row) : (await findDispute(sql, id))!;
}

export async function markDisputeHeld(sql: Sql, id: string): Promise<void> {
  await sql`UPDATE disputes SET held_at = now() WHERE id = ${id} AND held_at IS NULL`;
}

/** The hold was posted to system:disputes (the dispute outlived it); `credits` is what went. */
export async function markDisputeEscrowed(sql: Sql, id: string, credits: number): Promise<void> {
  await sql`
    UPDATE disputes SET escrowed_at = now(), credits_held = ${credits}
    WHERE id = ${id} AND escrowed_at IS NULL`;
}

/**
 * open → won | lost, once; returns the row as it ends. `creditsTaken`: what a lost dispute really
 * took, when a lapsed hold left less than was held.
 */
export async function closeDisputeRow(
  sql: Sql,
  id: string,
  status: 'won' | 'lost',
  creditsTaken?: number,
): Promise<Dispute> {
  const [row] = await sql<DisputeRow[]>`
    UPDATE disputes
    SET status = ${status}, closed_at = now(), credits_held = coalesce(${creditsTaken ?? null}::bigint, credits_held)
    WHERE id = ${id} AND status = 'open' RETURNING *`;
  return row ? toDispute(row) : (await findDispute(sql, id))!;
}

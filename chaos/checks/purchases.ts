import type { Sql } from '../../db/pool';
import type { StripeStandIn } from '../../dev/stripe';
import type { Journal, PurchaseRecord } from '../journal';
import { type CheckResult, check } from './check';
import { announcements, purchaseTimeline } from './purchase-timeline';

/** A purchase's statuses once it was credited (refunds since included). */
export const CREDITED: ReadonlySet<string> = new Set(['completed', 'partially_refunded', 'refunded']);

/** Every paid purchase credited exactly once, nothing unpaid credited, every second charge refunded once. */
export async function purchaseChecks(
  sql: Sql,
  journal: Journal,
  standIn: StripeStandIn,
  temporalAddress: string,
): Promise<CheckResult[]> {
  const ids = journal.purchases.map((p) => p.purchaseId);
  const credits = await sql<{ id: string; n: number; sum: number }[]>`
    SELECT cause_id AS id, count(*)::int AS n, sum(amount)::bigint AS sum FROM transfers
    WHERE cause_type = 'purchase' AND kind = 'purchase' AND cause_id = ANY(${ids}) GROUP BY cause_id`;
  const rows = await sql<{ id: string; status: string }[]>`
    SELECT id, status FROM purchases WHERE id = ANY(${ids}::uuid[])`;
  const byId = new Map(credits.map((c) => [c.id, c]));
  const status = new Map(rows.map((r) => [r.id, r.status]));
  const paid = journal.purchases.filter((p) => p.paid);
  const unpaid = journal.purchases.filter((p) => !p.paid);
  const paidViolations = paid.flatMap((p) => {
    const c = byId.get(p.purchaseId);
    if (!c)
      return [
        `paid purchase ${p.purchaseId} (${p.intent}) never credited (status ${status.get(p.purchaseId)})`,
      ];
    if (c.n !== 1 || c.sum !== p.credits)
      return [
        `purchase ${p.purchaseId}: ${c.n} credit transfers for ${c.sum} credits, expected 1 for ${p.credits}`,
      ];
    // Refunded since (checks/refunds.ts checks the status against what Stripe refunded).
    return CREDITED.has(status.get(p.purchaseId) ?? '')
      ? []
      : [`purchase ${p.purchaseId} credited but ${status.get(p.purchaseId)}`];
  });
  const unpaidViolations = unpaid.flatMap((p) =>
    byId.has(p.purchaseId) ? [`${p.intent} purchase ${p.purchaseId} was credited`] : [],
  );
  const [twice] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM (SELECT cause_id FROM transfers WHERE kind = 'purchase'
      GROUP BY cause_id HAVING count(*) > 1) x`;
  // Either announcement may be the one credited, so a purchase charged twice is checkable only
  // when both reached the API: Stripe retries an event for days, the stand-in's drop loses it.
  const twiceCharged = journal.purchases.filter((p) => p.duplicate);
  const delivered = new Set(
    standIn.deliveries.filter((d) => (d.status ?? 0) >= 200 && (d.status ?? 0) < 300).map((d) => d.eventId),
  );
  const due = twiceCharged.filter((p) =>
    announcements(standIn, p.sessionId).every((a) => delivered.has(a.eventId)),
  );
  const refundViolations = await duplicateRefundViolations(sql, due, standIn, temporalAddress);
  return [
    check(
      'every paid purchase credited once (and completed, or refunded since)',
      paid.length,
      paidViolations,
    ),
    check('no declined or unpaid purchase credited', unpaid.length, unpaidViolations),
    check(
      'no purchase credited twice (whole ledger)',
      1,
      twice!.n === 0 ? [] : [`${twice!.n} purchases with more than one credit`],
    ),
    check(
      `a purchase charged twice keeps one charge, refunds the other once (${twiceCharged.length - due.length} of ${twiceCharged.length} had an announcement dropped: not checkable)`,
      due.length,
      refundViolations,
    ),
  ];
}

/**
 * A purchase charged twice keeps one charge and refunds the other, once: whichever announcement
 * reached the purchase workflow first is credited (the second charge's event may win the race),
 * so the check is "one duplicate_charge refund, of the payment intent that was not credited".
 */
async function duplicateRefundViolations(
  sql: Sql,
  due: PurchaseRecord[],
  standIn: StripeStandIn,
  temporalAddress: string,
): Promise<string[]> {
  const ids = due.map((d) => d.purchaseId);
  const refunds = await sql<{ purchase_id: string; payment_intent_id: string; reason: string }[]>`
    SELECT purchase_id, payment_intent_id, reason FROM purchase_refunds WHERE purchase_id = ANY(${ids}::uuid[])`;
  const purchases = await sql<{ id: string; payment_intent_id: string | null }[]>`
    SELECT id, payment_intent_id FROM purchases WHERE id = ANY(${ids}::uuid[])`;
  const credited = new Map(purchases.map((p) => [p.id, p.payment_intent_id]));
  const violations: string[] = [];
  for (const d of due) {
    const mine = refunds.filter((r) => r.purchase_id === d.purchaseId && r.reason === 'duplicate_charge');
    if (mine.length === 1 && mine[0]!.payment_intent_id !== credited.get(d.purchaseId)) continue;
    const timeline = await purchaseTimeline(sql, standIn, temporalAddress, d);
    violations.push(
      `purchase ${d.purchaseId} charged twice, credited ${credited.get(d.purchaseId)}, ${mine.length} duplicate refunds. ` +
        timeline.join('; '),
    );
  }
  return violations;
}

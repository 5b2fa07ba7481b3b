import type { Sql } from '../../db/pool';
import type { StripeStandIn } from '../../dev/stripe';
import type { Journal } from '../journal';
import { type CheckResult, check } from './check';

interface DisputeRow {
  id: string;
  purchase_id: string;
  status: string;
  amount_cents: number;
  credits_due: number;
  credits_held: number | null;
  hold_id: string;
  hold_status: string | null;
  hold_amount: number | null;
  purchase_credits: number;
  price_cents: number;
}

interface PostingRow {
  id: string;
  ops: number;
  sum: number;
  to_disputes: boolean;
}

const isOk = (status: number | undefined) => status !== undefined && status >= 200 && status < 300;

/**
 * Disputes (DESIGN.md §12): each dispute the cardholder's bank opened is one row, ending as Stripe
 * closed it; its credits due are at most the disputed amount's share of the purchase, its hold at
 * most that; lost ⇒ the held credits, and as much of the rest of its credits due as the user had
 * at the close, taken to system:disputes once; won ⇒ released, nothing taken. Also when charge.dispute.closed reached the API before charge.dispute.created.
 */
export async function disputeChecks(
  sql: Sql,
  journal: Journal,
  standIn: StripeStandIn,
): Promise<CheckResult[]> {
  const rows = await sql<DisputeRow[]>`
    SELECT d.id, d.purchase_id::text, d.status, d.amount_cents, d.credits_due, d.credits_held, d.hold_id::text,
           h.status AS hold_status, h.amount AS hold_amount, p.credits AS purchase_credits, p.price_cents
    FROM disputes d JOIN purchases p ON p.id = d.purchase_id LEFT JOIN holds h ON h.id = d.hold_id`;
  const postings = await sql<PostingRow[]>`
    SELECT d.id, count(DISTINCT t.operation_key)::int AS ops, sum(t.amount)::bigint AS sum,
           bool_and(a.user_id IS NULL) AS to_disputes
    FROM disputes d JOIN transfers t ON t.cause_type = 'dispute' AND t.cause_id = d.id
    JOIN accounts a ON a.id = t.credit_account_id
    GROUP BY d.id`;
  const postingOf = new Map(postings.map((p) => [p.id, p]));
  const byId = new Map(rows.map((r) => [r.id, r]));

  const outcomeViolations: string[] = [];
  for (const d of journal.disputes) {
    const row = byId.get(d.disputeId);
    if (!row) outcomeViolations.push(`dispute ${d.disputeId} (${d.outcome} in Stripe) unknown to the system`);
    else if (
      row.status !== d.outcome ||
      row.purchase_id !== d.purchaseId ||
      row.amount_cents !== d.amountCents
    )
      outcomeViolations.push(
        `dispute ${d.disputeId}: ${row.status} for ${row.amount_cents} of purchase ${row.purchase_id}; Stripe: ${d.outcome} for ${d.amountCents} of ${d.purchaseId}`,
      );
  }
  const known = new Set(journal.disputes.map((d) => d.disputeId));
  for (const r of rows)
    if (!known.has(r.id))
      outcomeViolations.push(`dispute ${r.id} (${r.status}) was never opened by the driver`);

  const ledgerViolations = rows.flatMap((r) => {
    const share = Math.floor((r.purchase_credits * r.amount_cents) / r.price_cents);
    const held = r.credits_held ?? 0;
    const posting = postingOf.get(r.id);
    const problems = [
      ...(r.credits_due <= share ? [] : [`credits due ${r.credits_due} > the disputed share ${share}`]),
      ...(held <= r.credits_due ? [] : [`held ${held} > due ${r.credits_due}`]),
      // Lost: what the row says was taken (the hold, then as much of the rest as was there at
      // the close) went to system:disputes in at most two operations, and no hold is left pending.
      ...(r.status === 'lost'
        ? held === 0
          ? posting
            ? [`nothing taken but ${posting.sum} moved`]
            : []
          : posting &&
              posting.ops <= 2 &&
              posting.sum === held &&
              posting.to_disputes &&
              r.hold_status !== 'pending'
            ? []
            : [
                `lost: hold ${r.hold_status}; ${posting?.ops ?? 0} postings of ${posting?.sum ?? 0} for ${held} taken`,
              ]
        : []),
      ...(r.status === 'won'
        ? !posting && (held === 0 || r.hold_status === 'voided' || r.hold_status === 'expired')
          ? []
          : [`won: hold ${r.hold_status}; ${posting?.sum ?? 0} credits taken`]
        : []),
    ];
    return problems.length ? [`dispute ${r.id} (${r.status}): ${problems.join('; ')}`] : [];
  });

  // charge.dispute.closed answered before charge.dispute.created was: the reordered ones.
  const firstOk = (type: string, id: string) => {
    const events = standIn.events.filter(
      (e) => e.type === type && (e.data.object as { id?: string }).id === id,
    );
    const ids = new Set(events.map((e) => e.id));
    return (
      standIn.deliveries.find((x) => ids.has(x.eventId) && isOk(x.status))?.at ?? Number.POSITIVE_INFINITY
    );
  };
  const reordered = journal.disputes.filter(
    (d) => firstOk('charge.dispute.closed', d.disputeId) < firstOk('charge.dispute.created', d.disputeId),
  ).length;
  const counts = ['won', 'lost'].map((s) => `${rows.filter((r) => r.status === s).length} ${s}`).join(', ');
  return [
    check(
      `every dispute ends as Stripe closed it, once (${counts}; ${reordered} with closed answered before created, ${journal.disputes.filter((d) => d.closedFirst).length} of them forced)`,
      journal.disputes.length,
      outcomeViolations,
    ),
    check(
      "a dispute holds at most the disputed amount's share of the credits; lost ⇒ the held credits and what the user had of the rest taken once (to system:disputes), won ⇒ released, nothing taken",
      rows.length,
      ledgerViolations,
    ),
  ];
}

import type { Sql } from './pool';

/** One UTC day's money in one currency, in minor units (DESIGN.md §4: integers only). */
export interface MoneyDay {
  day: string;
  currency: string;
  /** What paid purchases brought in, on the day they were credited (auto top-ups included). */
  revenueCents: number;
  /** Refunds of credited payments (operator refunds and Stripe Dashboard ones), on the day made. */
  refundCents: number;
  /** Withdrawals paid out to creators, on the day the transfer was made. */
  payoutCents: number;
}

/**
 * The operator page's money by day, from the rows the sagas keep (money is not in the ledger,
 * which counts credits). Refunds of a second, duplicate charge are left out: that charge was
 * never revenue, so giving it back is not a refund of revenue. An operator refund still waiting
 * for Stripe (`in_flight`) is not counted until Stripe has made it. `from` and `to` are inclusive
 * UTC days. No index serves these ranges: the page is opened by operators, not customers, and
 * reads 30 days.
 */
export async function moneyByDay(sql: Sql, from: string, to: string): Promise<MoneyDay[]> {
  const start = sql`${from}::date::timestamp AT TIME ZONE 'UTC'`;
  const end = sql`(${to}::date + 1)::timestamp AT TIME ZONE 'UTC'`;
  return sql<MoneyDay[]>`
    SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, lower(currency) AS currency,
           sum(revenue)::bigint AS "revenueCents", sum(refund)::bigint AS "refundCents",
           sum(payout)::bigint AS "payoutCents"
    FROM (
      SELECT completed_at AS at, currency, price_cents AS revenue, 0 AS refund, 0 AS payout
      FROM purchases WHERE completed_at >= ${start} AND completed_at < ${end}
      UNION ALL
      SELECT r.created_at, p.currency, 0, r.amount_cents, 0
      FROM purchase_refunds r JOIN purchases p ON p.id = r.purchase_id
      WHERE r.created_at >= ${start} AND r.created_at < ${end}
        AND r.reason <> 'duplicate_charge' AND NOT r.in_flight
      UNION ALL
      SELECT decided_at, currency, 0, 0, amount_cents
      FROM withdrawals WHERE status = 'paid' AND decided_at >= ${start} AND decided_at < ${end}
    ) money
    GROUP BY 1, 2 ORDER BY 1, 2`;
}

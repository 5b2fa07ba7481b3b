import type { Sql } from './pool';

/** A creator's earnings (DESIGN.md §11 `GET /v1/earnings`): creator shares net of their reversals. */
export interface Earnings {
  from: string;
  to: string;
  /** Net creator shares earned in the range (referral rewards are GET /v1/referrals's). */
  totalCredits: number;
  /**
   * Not bounded by the range, like the two below: earned credits (shares and rewards) the user
   * still has that are still clearing (spendable now, withdrawable later): what they have, less
   * what is withdrawable and what is withheld.
   */
  pendingCredits: number;
  /** Earned credits that may be cashed out now (cleared, not spent, not held, not withheld). */
  withdrawableCredits: number;
  /** Withheld from cashing out for good (a referral reward taken back short); may still be spent. */
  withheldCredits: number;
  byAgent: { agentId: string; name: string | null; credits: number; uses: number }[];
  byDay: { day: string; credits: number }[];
}

/**
 * From the ledger alone: a share is a `creator_share` transfer into the creator's earned account;
 * its reversal mirrors it out of that account in an operation that `reverses` another. Days are UTC.
 */
export async function earnings(sql: Sql, userId: string, from: string, to: string): Promise<Earnings> {
  const rows = await sql<
    { day: string; agent_id: string; name: string | null; credits: number; uses: number }[]
  >`
    WITH earned AS (SELECT id FROM accounts WHERE user_id = ${userId} AND withdrawable)
    SELECT to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, t.agent_id, ag.name,
           sum(CASE WHEN t.credit_account_id = e.id THEN t.amount ELSE -t.amount END)::bigint AS credits,
           count(*) FILTER (WHERE t.credit_account_id = e.id)::int AS uses
    FROM earned e
    JOIN transfers t ON (t.credit_account_id = e.id AND t.kind = 'creator_share')
                     OR (t.debit_account_id = e.id AND t.agent_id IS NOT NULL
                         AND EXISTS (SELECT 1 FROM ledger_operations o
                                     WHERE o.idempotency_key = t.operation_key AND o.reverses IS NOT NULL))
    LEFT JOIN agents ag ON ag.id::text = t.agent_id
    WHERE t.created_at >= ${from}::date::timestamp AT TIME ZONE 'UTC'
      AND t.created_at < (${to}::date + 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY 1, 2, 3 ORDER BY 1, 2`;
  // Pending: what the user still has in the earned bucket that is not withdrawable yet (earned
  // credits spent, held, reversed or withheld are not pending any more).
  const [pending] = await sql<{ pending: number; withdrawable: number; withheld: number }[]>`
    SELECT coalesce(sum(greatest(0, w.available - w.withdrawable - w.withheld)), 0)::bigint AS pending,
           coalesce(sum(w.withdrawable), 0)::bigint AS withdrawable,
           coalesce(sum(w.withheld), 0)::bigint AS withheld
    FROM (SELECT a.posted - a.held AS available, ledger_account_withdrawable(a.id) AS withdrawable,
                 ledger_account_withheld(a.id) AS withheld
          FROM accounts a WHERE a.user_id = ${userId} AND a.withdrawable) w`;
  // Maps, not plain objects: ids are keys chosen by clients.
  const byAgent = new Map<string, { agentId: string; name: string | null; credits: number; uses: number }>();
  const byDay = new Map<string, number>();
  for (const row of rows) {
    const agent = byAgent.get(row.agent_id) ?? { agentId: row.agent_id, name: row.name, credits: 0, uses: 0 };
    agent.credits += row.credits;
    agent.uses += row.uses;
    byAgent.set(row.agent_id, agent);
    byDay.set(row.day, (byDay.get(row.day) ?? 0) + row.credits);
  }
  return {
    from,
    to,
    totalCredits: rows.reduce((sum, r) => sum + r.credits, 0),
    pendingCredits: pending!.pending,
    withdrawableCredits: pending!.withdrawable,
    withheldCredits: pending!.withheld,
    byAgent: [...byAgent.values()].sort(
      (a, b) => b.credits - a.credits || a.agentId.localeCompare(b.agentId),
    ),
    byDay: [...byDay].map(([day, credits]) => ({ day, credits })),
  };
}

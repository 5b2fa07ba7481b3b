import type { Sql } from './pool';

export interface UsageSummary {
  from: string;
  to: string;
  /** Net of reversals: what the range's charges cost once their reversals are taken off. */
  totalCredits: number;
  /** Credits given back by reversals of the range's charges (DESIGN.md §12). */
  reversedCredits: number;
  /** How many of the range's charges were reversed. */
  reversals: number;
  /** `credits` net of reversals; `events` every charged event, reversed or not. */
  byFeature: {
    feature: string;
    credits: number;
    events: number;
    reversedCredits: number;
    reversals: number;
  }[];
  /** `credits` and `byFeature` net of reversals, on the day of the charge. */
  byDay: { day: string; credits: number; byFeature: Record<string, number>; reversedCredits: number }[];
}

export const DAY_MS = 86_400_000;

/** The `days` UTC days ending with `to` (today by default), as inclusive YYYY-MM-DD bounds. */
export function dayRange(
  days: number,
  to = new Date().toISOString().slice(0, 10),
): { from: string; to: string } {
  return { from: new Date(Date.parse(to) - (days - 1) * DAY_MS).toISOString().slice(0, 10), to };
}

/**
 * What the user spent, by feature and by UTC day, from the ledger itself: every transfer from
 * the user's buckets to the `usage` account (usage events, posted project holds). The feature
 * is the transfer's kind without its `usage:` prefix; only `usage:` kinds are consumption (a
 * creator's share taken back by a reversal also goes to `usage`, as `usage_reversal`). A
 * reversal (an operation that `reverses` a charge) counts against its charge: on the charge's
 * day and feature, so a reversed event nets to zero where it was spent, and the range's totals
 * are its charges as they stand now. `from` and `to` are inclusive UTC days: the bounds are UTC
 * midnights whatever the session's TimeZone (a bare `date` would be compared at the session's
 * midnight, which disagrees with the UTC grouping).
 */
export async function usageSummary(
  sql: Sql,
  userId: string,
  from: string,
  to: string,
): Promise<UsageSummary> {
  const rows = await sql<
    { day: string; kind: string; credits: number; events: number; reversed: number; reversals: number }[]
  >`
    WITH charges AS (
      SELECT t.operation_key, to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, t.kind,
             sum(t.amount)::bigint AS credits
      FROM transfers t
      JOIN accounts mine ON mine.id = t.debit_account_id AND mine.user_id = ${userId}
      JOIN accounts usage ON usage.id = t.credit_account_id AND usage.system_name = 'usage'
      WHERE t.created_at >= ${from}::date::timestamp AT TIME ZONE 'UTC'
        AND t.created_at < (${to}::date + 1)::timestamp AT TIME ZONE 'UTC'
        AND starts_with(t.kind, 'usage:')
      GROUP BY 1, 2, 3
    ), reversed AS (
      -- What reversals gave back to this user out of usage, by the charge they reverse. A
      -- reversal comes after its charge, so one from before the range reverses none of its charges.
      SELECT o.reverses AS operation_key, sum(t.amount)::bigint AS credits
      FROM transfers t
      JOIN accounts mine ON mine.id = t.credit_account_id AND mine.user_id = ${userId}
      JOIN accounts usage ON usage.id = t.debit_account_id AND usage.system_name = 'usage'
      JOIN ledger_operations o ON o.idempotency_key = t.operation_key AND o.reverses IS NOT NULL
      WHERE t.created_at >= ${from}::date::timestamp AT TIME ZONE 'UTC'
      GROUP BY 1
    )
    SELECT c.day, c.kind, sum(c.credits)::bigint AS credits, count(*)::int AS events,
           coalesce(sum(r.credits), 0)::bigint AS reversed, count(r.operation_key)::int AS reversals
    FROM charges c LEFT JOIN reversed r ON r.operation_key = c.operation_key
    GROUP BY 1, 2 ORDER BY 1, 2`;
  const byFeature = new Map<
    string,
    { credits: number; events: number; reversedCredits: number; reversals: number }
  >();
  // Maps, not plain objects: a feature named like an Object.prototype member must count as itself.
  const byDay = new Map<string, { features: Map<string, number>; reversedCredits: number }>();
  for (const row of rows) {
    const feature = row.kind.replace(/^usage:/, '');
    const net = row.credits - row.reversed;
    const f = byFeature.get(feature) ?? { credits: 0, events: 0, reversedCredits: 0, reversals: 0 };
    f.credits += net;
    f.events += row.events;
    f.reversedCredits += row.reversed;
    f.reversals += row.reversals;
    byFeature.set(feature, f);
    const day = byDay.get(row.day) ?? { features: new Map<string, number>(), reversedCredits: 0 };
    day.features.set(feature, (day.features.get(feature) ?? 0) + net);
    day.reversedCredits += row.reversed;
    byDay.set(row.day, day);
  }
  return {
    from,
    to,
    totalCredits: rows.reduce((sum, r) => sum + r.credits - r.reversed, 0),
    reversedCredits: rows.reduce((sum, r) => sum + r.reversed, 0),
    reversals: rows.reduce((sum, r) => sum + r.reversals, 0),
    byFeature: [...byFeature].map(([feature, v]) => ({ feature, ...v })),
    byDay: [...byDay].map(([day, { features, reversedCredits }]) => ({
      day,
      credits: [...features.values()].reduce((a, b) => a + b, 0),
      byFeature: Object.fromEntries(features),
      reversedCredits,
    })),
  };
}

/** Whether a ledger operation with this key exists (a usage event charged before). */
export async function isRecorded(sql: Sql, idempotencyKey: string): Promise<boolean> {
  const rows = await sql`SELECT 1 FROM ledger_operations WHERE idempotency_key = ${idempotencyKey}`;
  return rows.length > 0;
}

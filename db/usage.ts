import type { Sql } from './pool';

export interface UsageSummary {
  from: string;
  to: string;
  totalCredits: number;
  byFeature: { feature: string; credits: number; events: number }[];
  byDay: { day: string; credits: number; byFeature: Record<string, number> }[];
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
 * is the transfer's kind without its `usage:` prefix. `from` and `to` are inclusive UTC days:
 * the bounds are UTC midnights whatever the session's TimeZone (a bare `date` would be compared
 * at the session's midnight, which disagrees with the UTC grouping).
 */
export async function usageSummary(
  sql: Sql,
  userId: string,
  from: string,
  to: string,
): Promise<UsageSummary> {
  const rows = await sql<{ day: string; kind: string; credits: number; events: number }[]>`
    SELECT to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, t.kind,
           sum(t.amount)::bigint AS credits, count(DISTINCT t.operation_key)::int AS events
    FROM transfers t
    JOIN accounts mine ON mine.id = t.debit_account_id AND mine.user_id = ${userId}
    JOIN accounts usage ON usage.id = t.credit_account_id AND usage.system_name = 'usage'
    WHERE t.created_at >= ${from}::date::timestamp AT TIME ZONE 'UTC'
      AND t.created_at < (${to}::date + 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY 1, 2 ORDER BY 1, 2`;
  const byFeature = new Map<string, { credits: number; events: number }>();
  // Maps, not plain objects: a feature named like an Object.prototype member must count as itself.
  const byDay = new Map<string, Map<string, number>>();
  for (const row of rows) {
    const feature = row.kind.replace(/^usage:/, '');
    const f = byFeature.get(feature) ?? { credits: 0, events: 0 };
    f.credits += row.credits;
    f.events += row.events;
    byFeature.set(feature, f);
    const day = byDay.get(row.day) ?? new Map<string, number>();
    day.set(feature, (day.get(feature) ?? 0) + row.credits);
    byDay.set(row.day, day);
  }
  return {
    from,
    to,
    totalCredits: rows.reduce((sum, r) => sum + r.credits, 0),
    byFeature: [...byFeature].map(([feature, v]) => ({ feature, ...v })),
    byDay: [...byDay].map(([day, features]) => ({
      day,
      credits: [...features.values()].reduce((a, b) => a + b, 0),
      byFeature: Object.fromEntries(features),
    })),
  };
}

/** Whether a ledger operation with this key exists (a usage event charged before). */
export async function isRecorded(sql: Sql, idempotencyKey: string): Promise<boolean> {
  const rows = await sql`SELECT 1 FROM ledger_operations WHERE idempotency_key = ${idempotencyKey}`;
  return rows.length > 0;
}

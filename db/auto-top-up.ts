/**
 * Auto top-up's rows (DESIGN.md §13): the setting, its state, the automatic purchases (rows of
 * `purchases` with origin `auto_top_up`) and what running projects still need. Every decision
 * that must see a consistent picture (the monthly limit with charges in flight, three failures
 * in a row) is taken here under the setting's row lock, so two deciders can never both pass.
 */
import type { PurchaseStatus } from '../domain/purchases';
import type { Sql, Tx } from './pool';

export const AUTO_TOP_UP_STATES = ['active', 'suspended'] as const;
export type AutoTopUpState = (typeof AUTO_TOP_UP_STATES)[number];

/** Failed automatic purchases in a row (since the setting was last saved) that suspend it. */
export const FAILURES_TO_SUSPEND = 3;

export interface AutoTopUpSetting {
  enabled: boolean;
  belowCredits: number;
  packageId: string;
  monthlyLimitCents: number;
}

export interface StoredAutoTopUp extends AutoTopUpSetting {
  userId: string;
  state: AutoTopUpState;
  /** The failed purchase whose failure suspended it (its notice is keyed by it). */
  suspendedBy: string | null;
  savedAt: string;
}

interface SettingRow {
  user_id: string;
  enabled: boolean;
  below_credits: number;
  package_id: string;
  monthly_limit_cents: number;
  state: AutoTopUpState;
  suspended_by: string | null;
  saved_at: Date;
}

function toSetting(r: SettingRow): StoredAutoTopUp {
  return {
    userId: r.user_id,
    enabled: r.enabled,
    belowCredits: r.below_credits,
    packageId: r.package_id,
    monthlyLimitCents: r.monthly_limit_cents,
    state: r.state,
    suspendedBy: r.suspended_by,
    savedAt: r.saved_at.toISOString(),
  };
}

export async function findAutoTopUp(sql: Sql | Tx, userId: string): Promise<StoredAutoTopUp | null> {
  const [row] = await sql<SettingRow[]>`SELECT * FROM auto_top_up_settings WHERE user_id = ${userId}`;
  return row ? toSetting(row) : null;
}

/**
 * Saves the setting: active again (a suspension ends here, and the failure count starts anew
 * from now), and the threshold the debit path watches set on the user's row in the same
 * transaction (NULL when disabled).
 */
export async function saveAutoTopUp(sql: Sql, userId: string, s: AutoTopUpSetting): Promise<StoredAutoTopUp> {
  return sql.begin(async (tx) => {
    const [row] = await tx<SettingRow[]>`
      INSERT INTO auto_top_up_settings (user_id, enabled, below_credits, package_id, monthly_limit_cents)
      VALUES (${userId}, ${s.enabled}, ${s.belowCredits}, ${s.packageId}, ${s.monthlyLimitCents})
      ON CONFLICT (user_id) DO UPDATE SET
        enabled = EXCLUDED.enabled, below_credits = EXCLUDED.below_credits,
        package_id = EXCLUDED.package_id, monthly_limit_cents = EXCLUDED.monthly_limit_cents,
        state = 'active', suspended_by = NULL, saved_at = clock_timestamp()
      RETURNING *`;
    await tx`UPDATE users SET auto_top_up_below = ${s.enabled ? s.belowCredits : null} WHERE id = ${userId}`;
    return toSetting(row!);
  }) as Promise<StoredAutoTopUp>;
}

/** This calendar month's (UTC) automatic spend: every automatic purchase not failed, pending ones too. */
async function monthSpend(tx: Sql | Tx, userId: string, currency: string): Promise<number> {
  const [row] = await tx<{ cents: number }[]>`
    SELECT coalesce(sum(price_cents), 0)::bigint AS cents FROM purchases
    WHERE user_id = ${userId} AND origin = 'auto_top_up' AND currency = ${currency}
      AND status NOT IN ('failed', 'expired')
      AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;
  return row!.cents;
}

/** What an automatic purchase about to be charged is. */
export interface AutoPurchase {
  purchaseId: string;
  userId: string;
  packageId: string;
  credits: number;
  priceCents: number;
  currency: string;
}

export type AutoTopUpSkip = 'disabled' | 'suspended' | 'monthly_limit' | 'already_handled';

/**
 * Opens the automatic purchase for one crossing, or says why not, under the setting's row lock:
 * enabled and active; this calendar month's automatic spend (charges in flight included, as
 * pending rows) plus this package's price within the limit; then the pending row is written.
 * The purchase id comes from the crossing, so a retry finds its own row and goes on with it.
 */
export async function openAutoPurchase(
  sql: Sql,
  p: AutoPurchase & { crossingKey: string },
): Promise<{ opened: AutoPurchase } | { skipped: AutoTopUpSkip; monthSpendCents?: number }> {
  return sql.begin(async (tx) => {
    const [setting] = await tx<SettingRow[]>`
      SELECT * FROM auto_top_up_settings WHERE user_id = ${p.userId} FOR UPDATE`;
    const [existing] = await tx<{ status: PurchaseStatus }[]>`
      SELECT status FROM purchases WHERE id = ${p.purchaseId}`;
    if (existing) {
      return existing.status === 'pending' ? { opened: p } : { skipped: 'already_handled' as const };
    }
    if (!setting?.enabled) return { skipped: 'disabled' as const };
    if (setting.state !== 'active') return { skipped: 'suspended' as const };
    const spent = await monthSpend(tx, p.userId, p.currency);
    if (spent + p.priceCents > setting.monthly_limit_cents)
      return { skipped: 'monthly_limit' as const, monthSpendCents: spent };
    await tx`
      INSERT INTO purchases (id, user_id, package_id, credits, price_cents, currency, origin, crossing_key)
      VALUES (${p.purchaseId}, ${p.userId}, ${p.packageId}, ${p.credits}, ${p.priceCents}, ${p.currency},
              'auto_top_up', ${p.crossingKey})`;
    return { opened: p };
  }) as Promise<{ opened: AutoPurchase } | { skipped: AutoTopUpSkip; monthSpendCents?: number }>;
}

/**
 * The automatic purchase failed (declined, authentication required, package gone): it is marked
 * failed, and when it makes FAILURES_TO_SUSPEND failures in a row since the setting was saved
 * (a completed automatic purchase breaks the row), the setting is suspended by it. Returns
 * whether this purchase is the one that suspended it (true again on a retry, so its notice,
 * keyed by the purchase, is never lost), and the failures in a row.
 */
export async function failAutoPurchase(
  sql: Sql,
  input: { userId: string; purchaseId: string; reason: string },
): Promise<{ suspendedByThis: boolean; failuresInARow: number }> {
  return sql.begin(async (tx) => {
    const [setting] = await tx<SettingRow[]>`
      SELECT * FROM auto_top_up_settings WHERE user_id = ${input.userId} FOR UPDATE`;
    await tx`
      UPDATE purchases SET status = 'failed', failure_reason = ${input.reason}
      WHERE id = ${input.purchaseId} AND status = 'pending'`;
    if (!setting) return { suspendedByThis: false, failuresInARow: 0 };
    const failuresInARow = await failuresSince(tx, input.userId, setting.saved_at);
    if (setting.state === 'active' && failuresInARow >= FAILURES_TO_SUSPEND) {
      await tx`
        UPDATE auto_top_up_settings SET state = 'suspended', suspended_by = ${input.purchaseId}
        WHERE user_id = ${input.userId}`;
      await tx`UPDATE users SET auto_top_up_below = NULL WHERE id = ${input.userId}`;
      return { suspendedByThis: true, failuresInARow };
    }
    return { suspendedByThis: setting.suspended_by === input.purchaseId, failuresInARow };
  }) as Promise<{ suspendedByThis: boolean; failuresInARow: number }>;
}

/** Failed automatic purchases since `since` and since the latest completed one. */
async function failuresSince(tx: Sql | Tx, userId: string, since: Date): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    SELECT count(*)::bigint AS n FROM purchases f
    WHERE f.user_id = ${userId} AND f.origin = 'auto_top_up' AND f.status = 'failed'
      AND f.created_at >= ${since}
      AND f.created_at > coalesce((
        SELECT max(created_at) FROM purchases c
        WHERE c.user_id = ${userId} AND c.origin = 'auto_top_up' AND c.status <> 'failed'
          AND c.status <> 'pending' AND c.status <> 'expired'), '-infinity')`;
  return row!.n;
}

export async function failuresInARow(sql: Sql, userId: string, since: string): Promise<number> {
  return failuresSince(sql, userId, new Date(since));
}

/** The automatic purchase being charged right now, if any (the workflow runs one at a time). */
export async function pendingAutoPurchase(
  sql: Sql,
  userId: string,
): Promise<{ purchaseId: string; since: string } | null> {
  const [row] = await sql<{ id: string; created_at: Date }[]>`
    SELECT id, created_at FROM purchases
    WHERE user_id = ${userId} AND origin = 'auto_top_up' AND status = 'pending'
    ORDER BY created_at DESC LIMIT 1`;
  return row ? { purchaseId: row.id, since: row.created_at.toISOString() } : null;
}

export interface AutoPurchaseView {
  id: string;
  packageId: string;
  credits: number;
  priceCents: number;
  currency: string;
  status: PurchaseStatus;
  failureReason: string | null;
  paymentIntentId: string | null;
  createdAt: string;
  completedAt: string | null;
}

export async function recentAutoPurchases(
  sql: Sql,
  userId: string,
  limit: number,
): Promise<AutoPurchaseView[]> {
  const rows = await sql<
    {
      id: string;
      package_id: string;
      credits: number;
      price_cents: number;
      currency: string;
      status: PurchaseStatus;
      failure_reason: string | null;
      payment_intent_id: string | null;
      created_at: Date;
      completed_at: Date | null;
    }[]
  >`
    SELECT id, package_id, credits, price_cents, currency, status, failure_reason, payment_intent_id,
           created_at, completed_at
    FROM purchases WHERE user_id = ${userId} AND origin = 'auto_top_up'
    ORDER BY created_at DESC, id LIMIT ${limit}`;
  return rows.map((r) => ({
    id: r.id,
    packageId: r.package_id,
    credits: r.credits,
    priceCents: r.price_cents,
    currency: r.currency,
    status: r.status,
    failureReason: r.failure_reason,
    paymentIntentId: r.payment_intent_id,
    createdAt: r.created_at.toISOString(),
    completedAt: r.completed_at?.toISOString() ?? null,
  }));
}

export async function monthAutoSpendCents(sql: Sql, userId: string, currency: string): Promise<number> {
  return monthSpend(sql, userId, currency);
}

/**
 * What the user's running and paused projects still need for their next task: each one's first
 * task not yet reserved (status pending). A task in flight is reserved already, so it is in the
 * held balance, not here. Committed spend the balance does not show yet.
 */
export async function nextTaskNeeds(sql: Sql, userId: string): Promise<number> {
  const [row] = await sql<{ needs: number }[]>`
    SELECT coalesce(sum(t.estimate), 0)::bigint AS needs
    FROM projects p
    CROSS JOIN LATERAL (
      SELECT estimate FROM project_tasks
      WHERE project_id = p.id AND status = 'pending' ORDER BY position LIMIT 1) t
    WHERE p.user_id = ${userId} AND p.status IN ('running', 'paused')`;
  return row!.needs;
}

/** The user's projects still going (running or paused): the ones a settled top-up wakes. */
export async function liveProjectIds(sql: Sql, userId: string): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    SELECT id FROM projects WHERE user_id = ${userId} AND status IN ('running', 'paused')`;
  return rows.map((r) => r.id);
}

import { z } from 'zod';
import type { Sql } from '../../db/pool';
import type { StripeStandIn } from '../../dev/stripe';
import { STARTER } from '../flows/purchases';
import type { AutoTopUpRecord, Journal } from '../journal';
import { type CheckResult, check } from './check';
import { CREDITED } from './purchases';

/** Failed automatic purchases in a row that suspend auto top-up (DESIGN.md §13). */
const FAILURES_TO_SUSPEND = 3;
/** Statuses that no longer count against the monthly limit (db/auto-top-up.ts monthSpend). */
const RELEASED: ReadonlySet<string> = new Set(['failed', 'expired']);

interface SettingRow {
  user_id: string;
  monthly_limit_cents: number;
  state: string;
  suspended_by: string | null;
  saved_at: Date;
}

interface AutoPurchaseRow {
  id: string;
  user_id: string;
  crossing_key: string;
  credits: number;
  price_cents: number;
  currency: string;
  status: string;
  payment_intent_id: string | null;
  failure_reason: string | null;
  created_at: Date;
  /** When it stopped counting as in flight: completed, or failed (the status trigger stamps updated_at). */
  settled_at: Date;
}

interface CreditRow {
  purchase_id: string;
  n: number;
  sum: number;
  keys: string[];
}

/** An off-session PaymentIntent of auto top-up, as the stand-in holds it now. */
interface OffSessionIntent {
  id: string;
  purchaseId: string;
  userId: string;
  amount: number;
  currency: string;
  status: string;
  createdMonth: string;
}

const intentEvent = z.object({
  id: z.string(),
  metadata: z.record(z.string(), z.string()),
});

/** Every PaymentIntent auto top-up made: each announced itself once, succeeded or failed (dev/stripe/store.ts). */
function offSessionIntents(standIn: StripeStandIn): OffSessionIntent[] {
  const ids = new Set<string>();
  for (const e of standIn.events) {
    if (e.type !== 'payment_intent.succeeded' && e.type !== 'payment_intent.payment_failed') continue;
    const parsed = intentEvent.safeParse(e.data.object);
    if (parsed.success && parsed.data.metadata.origin === 'auto_top_up') ids.add(parsed.data.id);
  }
  return [...ids].map((id) => {
    const pi = standIn.paymentIntent(id);
    return {
      id,
      purchaseId: pi.metadata.purchaseId ?? '',
      userId: pi.metadata.userId ?? '',
      amount: pi.amount,
      currency: pi.currency,
      status: pi.status,
      createdMonth: new Date(pi.created * 1000).toISOString().slice(0, 7),
    };
  });
}

const monthOf = (d: Date) => d.toISOString().slice(0, 7);

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/**
 * Auto top-up (DESIGN.md §13), from the database, the ledger and the stand-in's PaymentIntents:
 * each crossing opens at most one automatic purchase, charged by at most one PaymentIntent and
 * credited at most once; a succeeded one is credited exactly once, a declined one never; per
 * user and calendar month the automatic charges succeeded and in flight never exceed the
 * monthly limit, at the moment of any opening and in Stripe; three failures in a row suspend it
 * with exactly one notice and nothing is charged after; each card did what it does off-session.
 */
export async function autoTopUpChecks(
  sql: Sql,
  journal: Journal,
  standIn: StripeStandIn,
): Promise<CheckResult[]> {
  const settings = await sql<SettingRow[]>`
    SELECT user_id::text, monthly_limit_cents, state, suspended_by::text, saved_at FROM auto_top_up_settings`;
  const rows = await sql<AutoPurchaseRow[]>`
    SELECT id::text, user_id::text, crossing_key, credits, price_cents, currency, status, payment_intent_id,
           failure_reason, created_at, coalesce(completed_at, updated_at) AS settled_at
    FROM purchases WHERE origin = 'auto_top_up' ORDER BY created_at, id`;
  const credits = await sql<CreditRow[]>`
    SELECT cause_id AS purchase_id, count(*)::int AS n, sum(amount)::bigint AS sum,
           array_agg(DISTINCT operation_key) AS keys
    FROM transfers WHERE cause_type = 'purchase' AND kind = 'purchase' AND cause_id = ANY(${rows.map((r) => r.id)})
    GROUP BY cause_id`;
  const notices = await sql<{ user_id: string; n: number }[]>`
    SELECT user_id::text, count(*)::int AS n FROM outbox WHERE kind = 'auto_top_up_suspended' GROUP BY user_id`;
  const intents = offSessionIntents(standIn);
  const creditOf = new Map(credits.map((c) => [c.purchase_id, c]));
  const intentsOf = groupBy(intents, (i) => i.purchaseId);
  const rowById = new Map(rows.map((r) => [r.id, r]));
  const rowsOf = groupBy(rows, (r) => r.user_id);
  const limitOf = new Map(settings.map((s) => [s.user_id, s.monthly_limit_cents]));

  // One purchase per crossing (its id comes from the crossing, so a second would be a new crossing key).
  const crossings = groupBy(rows, (r) => `${r.user_id} ${r.crossing_key}`);
  const crossingViolations = [...crossings].flatMap(([key, mine]) =>
    mine.length === 1 ? [] : [`crossing ${key}: ${mine.length} automatic purchases`],
  );

  const intentViolations = [
    ...[...intentsOf].flatMap(([purchaseId, mine]) =>
      mine.length === 1
        ? []
        : [
            `automatic purchase ${purchaseId}: ${mine.length} PaymentIntents (${mine.map((i) => i.id).join(', ')})`,
          ],
    ),
    ...intents.flatMap((i) => {
      const row = rowById.get(i.purchaseId);
      if (!row) return [`PaymentIntent ${i.id} (${i.status}) names no automatic purchase (${i.purchaseId})`];
      return row.user_id === i.userId
        ? []
        : [`PaymentIntent ${i.id} is for user ${i.userId}, its purchase for ${row.user_id}`];
    }),
  ];

  const credited = rows.filter((r) => CREDITED.has(r.status));
  const creditedViolations = credited.flatMap((r) => {
    const succeeded = (intentsOf.get(r.id) ?? []).filter((i) => i.status === 'succeeded');
    const pi = succeeded[0];
    const c = creditOf.get(r.id);
    const problems = [
      ...(succeeded.length === 1 ? [] : [`${succeeded.length} succeeded PaymentIntents`]),
      ...(pi && pi.id !== r.payment_intent_id
        ? [`records ${r.payment_intent_id}, Stripe charged ${pi.id}`]
        : []),
      ...(pi && (pi.amount !== r.price_cents || pi.currency !== r.currency)
        ? [`charged ${pi.amount} ${pi.currency} for a price of ${r.price_cents} ${r.currency}`]
        : []),
      ...(c?.n === 1 && c.sum === r.credits
        ? []
        : [
            `credited ${c?.sum ?? 0} by ${c?.n ?? 0} transfers (${c?.keys.join(', ') ?? 'none'}), expected ${r.credits} once`,
          ]),
    ];
    return problems.length ? [`automatic purchase ${r.id} ${r.status}: ${problems.join('; ')}`] : [];
  });
  // Money taken is money credited: a succeeded PaymentIntent whose purchase is not credited.
  const uncredited = intents
    .filter((i) => i.status === 'succeeded' && !CREDITED.has(rowById.get(i.purchaseId)?.status ?? ''))
    .map(
      (i) =>
        `PaymentIntent ${i.id} succeeded, its purchase ${i.purchaseId} is ${rowById.get(i.purchaseId)?.status}`,
    );

  const failed = rows.filter((r) => !CREDITED.has(r.status));
  const failedViolations = failed.flatMap((r) => {
    const succeeded = (intentsOf.get(r.id) ?? []).filter((i) => i.status === 'succeeded');
    const c = creditOf.get(r.id);
    if (r.status !== 'failed') return [`automatic purchase ${r.id} is ${r.status} after settling`];
    return succeeded.length === 0 && !c
      ? []
      : [
          `failed automatic purchase ${r.id}: ${succeeded.length} succeeded PaymentIntents, ${c?.sum ?? 0} credited`,
        ];
  });

  const limit = limitViolations(rowsOf, limitOf, intents);
  const suspension = suspensionViolations(settings, rowsOf, new Map(notices.map((n) => [n.user_id, n.n])));
  const cards = cardViolations(journal.autoTopUps, rowsOf);
  const suspended = settings.filter((s) => s.state === 'suspended').length;
  const driverCrossings = journal.autoTopUps.reduce((n, r) => n + r.crossings, 0);
  const raced = journal.autoTopUps.reduce((n, r) => n + r.racedPurchases, 0);

  return [
    check(
      `each crossing opened at most one automatic purchase (${driverCrossings} crossings sent by ${journal.autoTopUps.length} users, ${raced} raced by a Checkout purchase)`,
      crossings.size,
      crossingViolations,
    ),
    check(
      'each automatic purchase charged by at most one off-session PaymentIntent, and each of those names its purchase',
      intents.length,
      intentViolations,
    ),
    check(
      'a succeeded automatic charge: its purchase completed with it and credited exactly once, for its package',
      credited.length + intents.filter((i) => i.status === 'succeeded').length,
      [...creditedViolations, ...uncredited],
    ),
    check(
      'a declined automatic charge (or one needing authentication): its purchase failed, nothing credited',
      failed.length,
      failedViolations,
    ),
    check(
      `per user and calendar month, automatic charges succeeded + in flight ≤ monthlyLimitCents, at every opening and in Stripe (${limit.atLimit} of ${limitOf.size} users reached their limit)`,
      limit.checked,
      limit.violations,
    ),
    check(
      `three failures in a row suspend auto top-up with exactly one notice and nothing charged after; fewer leave it active with none (${suspended} suspended)`,
      settings.length,
      suspension,
    ),
    check(
      'each saved card did off-session what it does: 4242 paid; 0341 declined; 3155 needed authentication',
      cards.checked,
      cards.violations,
    ),
  ];
}

/**
 * The monthly limit, exactly: at each automatic purchase's opening, the same month's purchases
 * opened before it that had not failed by then (in flight or succeeded), plus itself, within the
 * user's limit; and the month's succeeded PaymentIntents in Stripe within it too.
 */
function limitViolations(
  rowsOf: Map<string, AutoPurchaseRow[]>,
  limitOf: Map<string, number>,
  intents: OffSessionIntent[],
): { checked: number; atLimit: number; violations: string[] } {
  const violations: string[] = [];
  let checked = 0;
  const reached = new Set<string>();
  for (const [user, mine] of rowsOf) {
    const limit = limitOf.get(user) ?? 0;
    for (const p of mine) {
      checked++;
      const committed = mine.filter(
        (q) =>
          monthOf(q.created_at) === monthOf(p.created_at) &&
          q.created_at <= p.created_at &&
          (q === p || !RELEASED.has(q.status) || q.settled_at > p.created_at),
      );
      const cents = committed.reduce((s, q) => s + q.price_cents, 0);
      if (cents > limit)
        violations.push(
          `user ${user}: opening ${p.id} made ${cents} cents succeeded or in flight this month (${committed.length} purchases), limit ${limit}`,
        );
    }
  }
  const charged = groupBy(
    intents.filter((i) => i.status === 'succeeded'),
    (i) => `${i.userId} ${i.createdMonth}`,
  );
  for (const [key, mine] of charged) {
    checked++;
    const user = mine[0]!.userId;
    const limit = limitOf.get(user) ?? 0;
    const cents = mine.reduce((s, i) => s + i.amount, 0);
    if (cents > limit)
      violations.push(`user ${key}: Stripe charged ${cents} cents automatically, limit ${limit}`);
    // Reached: another package would not fit this month.
    if (cents + STARTER.priceCents > limit) reached.add(user);
  }
  return { checked, atLimit: reached.size, violations };
}

/**
 * Since the setting was saved: the third failed automatic purchase in a row (a completed one
 * breaks the row) suspends it, names itself as what did, and its one notice is sent; no
 * automatic purchase is opened after it. Without three in a row it stays active, no notice.
 */
function suspensionViolations(
  settings: SettingRow[],
  rowsOf: Map<string, AutoPurchaseRow[]>,
  noticesOf: Map<string, number>,
): string[] {
  return settings.flatMap((s) => {
    const mine = (rowsOf.get(s.user_id) ?? []).filter((r) => r.created_at >= s.saved_at);
    let run = 0;
    let third: AutoPurchaseRow | null = null;
    for (const r of mine) {
      if (r.status === 'failed') run++;
      else if (CREDITED.has(r.status)) run = 0;
      if (run === FAILURES_TO_SUSPEND && !third) third = r;
    }
    const notices = noticesOf.get(s.user_id) ?? 0;
    const suspender = third;
    if (!suspender)
      return s.state === 'active' && notices === 0
        ? []
        : [`user ${s.user_id}: ${run} failures in a row, ${s.state}, ${notices} notices`];
    const after = mine.filter((r) => r.created_at > suspender.created_at);
    const problems = [
      ...(s.state === 'suspended' ? [] : [`${s.state}`]),
      ...(s.suspended_by === suspender.id
        ? []
        : [`suspended by ${s.suspended_by}, the third failure is ${suspender.id}`]),
      ...(notices === 1 ? [] : [`${notices} notices`]),
      ...(after.length === 0 ? [] : [`${after.length} automatic purchases opened after it`]),
    ];
    return problems.length ? [`user ${s.user_id} after three failures in a row: ${problems.join('; ')}`] : [];
  });
}

/** What each journal user's card must have done with every one of their automatic purchases. */
function cardViolations(
  records: AutoTopUpRecord[],
  rowsOf: Map<string, AutoPurchaseRow[]>,
): { checked: number; violations: string[] } {
  const violations: string[] = [];
  let checked = 0;
  for (const r of records) {
    for (const p of rowsOf.get(r.user.id) ?? []) {
      checked++;
      const ok =
        r.scenario === 'declines off-session'
          ? p.status === 'failed' && (p.failure_reason ?? '').startsWith('card_declined')
          : r.scenario === 'needs authentication'
            ? p.status === 'failed' && (p.failure_reason ?? '').startsWith('authentication_required')
            : CREDITED.has(p.status);
      if (!ok)
        violations.push(
          `user ${r.user.id} (${r.scenario}): automatic purchase ${p.id} ${p.status} (${p.failure_reason ?? 'no failure'})`,
        );
    }
  }
  return { checked, violations };
}

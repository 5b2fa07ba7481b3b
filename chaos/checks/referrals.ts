import { z } from 'zod';
import type { Sql } from '../../db/pool';
import { DEFAULT_CARD } from '../flows/referrals';
import type { ApiClient } from '../http';
import type { Journal, PurchaseRecord, RefereeRecord } from '../journal';
import { type CheckResult, check } from './check';

/** The default referral rules (EarningSettings.referrals; the fleet does not change them). */
const REWARD_BP = 1000;
const MAX_REWARD = 5000;
const MONTHLY_CAP = 20;

/** min(floor(credits × 10%), 5,000): the reward for a first purchase of `credits`. */
export const rewardFor = (credits: number) =>
  Math.min(Math.floor((credits * REWARD_BP) / 10_000), MAX_REWARD);

interface ReferralRow {
  referrer_id: string;
  referee_id: string;
  status: string;
  reason: string | null;
  purchase_id: string | null;
  purchase_credits: number | null;
  reward_credits: number;
  month: string | null;
}

const summary = z.object({
  referralCode: z.string(),
  referred: z.array(z.object({ status: z.string(), rewardCredits: z.number().int() })),
  referredCount: z.number().int(),
  rewardsTotal: z.number().int(),
});

/**
 * Referrals (DESIGN.md §10, §11): each referee's referral decided as the rules say; exactly one
 * `referral:<refereeId>` ledger operation for each rewarded referral, of the reward the first
 * credited purchase earns, and none for any other; the monthly cap; each referrer's
 * GET /v1/referrals agrees with the ledger.
 */
export async function referralChecks(sql: Sql, journal: Journal, api: ApiClient): Promise<CheckResult[]> {
  // Every referral of the run's database: also those whose sign-up answer was lost.
  const rows = await sql<ReferralRow[]>`
    SELECT r.referrer_id::text, r.referee_id::text, r.status, r.reason, r.purchase_id::text,
           p.credits AS purchase_credits, r.reward_credits,
           to_char(r.decided_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month
    FROM referrals r LEFT JOIN purchases p ON p.id = r.purchase_id`;
  const byReferee = new Map(rows.map((r) => [r.referee_id, r]));
  const refereeIds = journal.referees.map((r) => r.user.id);
  const credited = await sql<{ id: string; user_id: string }[]>`
    SELECT id::text, user_id::text FROM purchases
    WHERE user_id = ANY(${refereeIds}::uuid[]) AND completed_at IS NOT NULL`;
  const creditedOf = new Map<string, string[]>();
  for (const p of credited) creditedOf.set(p.user_id, [...(creditedOf.get(p.user_id) ?? []), p.id]);
  const purchaseById = new Map(journal.purchases.map((p) => [p.purchaseId, p]));

  const outcomes = new Map<string, number>();
  const decisionViolations = journal.referees.flatMap((referee) => {
    const row = byReferee.get(referee.user.id);
    if (!row) return [`referee ${referee.user.id}: no referral`];
    const expected = expectedDecision(referee, row, creditedOf.get(referee.user.id) ?? [], purchaseById);
    const actual = row.reason ? `rejected (${row.reason})` : row.status;
    const ok = Array.isArray(expected.outcome)
      ? expected.outcome.includes(actual)
      : expected.outcome === actual;
    if (ok) outcomes.set(actual, (outcomes.get(actual) ?? 0) + 1);
    const wrongReferrer =
      row.referrer_id === referee.referrer.user.id
        ? []
        : [`referee ${referee.user.id}: referrer ${row.referrer_id}`];
    return [
      ...wrongReferrer,
      ...(ok
        ? []
        : [`referee ${referee.user.id} (${expected.why}): ${actual}, expected ${String(expected.outcome)}`]),
      ...(expected.problem ? [`referee ${referee.user.id}: ${expected.problem}`] : []),
    ];
  });

  const ledgerViolations = await rewardOperationViolations(sql, rows);
  const cap = capViolations(rows);
  const viewViolations = await referralViewViolations(sql, journal, api, rows);
  const withheld = await withholdingViolations(sql);
  const shown = [...outcomes.entries()]
    .sort()
    .map(([o, n]) => `${n} ${o}`)
    .join(', ');
  return [
    check(
      `each referee's referral decided by the rules: rewarded, or rejected same_person / same_card / monthly_cap; signed_up without a credited purchase (${shown})`,
      journal.referees.length,
      decisionViolations,
    ),
    check(
      'one referral:<refereeId> ledger operation per rewarded referral, of min(10% of its first credited purchase, 5,000) to the referrer; none for any other',
      rows.length,
      ledgerViolations,
    ),
    check(
      `at most ${MONTHLY_CAP} rewards per referrer a month; monthly_cap only once ${MONTHLY_CAP} were given (${cap.summary})`,
      cap.checked,
      cap.violations,
    ),
    check(
      `a reward taken back short withholds exactly its shortfall from the referrer's withdrawable credits, once; nothing else is withheld (${withheld.summary})`,
      withheld.checked,
      withheld.violations,
    ),
    check(
      'GET /v1/referrals of each referrer agrees with the ledger (rewardsTotal) and the referrals (count, statuses)',
      journal.referrers.length,
      viewViolations,
    ),
  ];
}

/**
 * What the rules give a journal referee, from what the driver did: the same person (by a +tag
 * of the referrer's email) is rejected at sign-up; without a credited purchase nothing is
 * decided; else the purchase that decided it (one of the credited ones) was paid with a card the
 * referrer had paid with (same_card) or not (a reward, unless the monthly cap was reached).
 */
function expectedDecision(
  referee: RefereeRecord,
  row: ReferralRow,
  credited: string[],
  purchaseById: Map<string, PurchaseRecord>,
): { outcome: string | string[]; why: string; problem?: string } {
  if (referee.selfReferral) return { outcome: 'rejected (same_person)', why: 'self-referral by +tag' };
  if (credited.length === 0) return { outcome: 'signed_up', why: 'no credited purchase' };
  if (!row.purchase_id || !credited.includes(row.purchase_id))
    return {
      outcome: 'decided by one of its credited purchases',
      why: `credited ${credited.join(', ')}`,
      problem: `decided by ${row.purchase_id ?? 'no purchase'}`,
    };
  const card = purchaseById.get(row.purchase_id)?.card ?? DEFAULT_CARD;
  if (referee.referrer.cards.includes(card))
    return { outcome: 'rejected (same_card)', why: `paid with ${card.slice(-4)}, as the referrer did` };
  return {
    outcome: ['rewarded', 'rejected (monthly_cap)'],
    why: `paid with ${card.slice(-4)}, referrer ${referee.referrer.kind}`,
  };
}

/** Every referral's ledger operation (keyed by its referee) against the referral: once, for its reward, or none. */
async function rewardOperationViolations(sql: Sql, rows: ReferralRow[]): Promise<string[]> {
  type Leg = {
    key: string;
    kind: string | null;
    amount: number;
    receiver: string | null;
    bucket: string | null;
  };
  const legs = await sql<Leg[]>`
    SELECT o.idempotency_key AS key, t.kind, t.amount, a.user_id::text AS receiver, a.bucket
    FROM ledger_operations o
    LEFT JOIN transfers t ON t.operation_key = o.idempotency_key
    LEFT JOIN accounts a ON a.id = t.credit_account_id
    WHERE o.idempotency_key LIKE 'referral:%'`;
  const byKey = new Map<string, Leg[]>();
  for (const l of legs) byKey.set(l.key, [...(byKey.get(l.key) ?? []), l]);
  const violations: string[] = [];
  for (const r of rows) {
    const key = `referral:${r.referee_id}`;
    const mine = (byKey.get(key) ?? []).filter((l) => l.kind !== null);
    byKey.delete(key);
    if (r.status !== 'rewarded' && r.status !== 'clawed_back') {
      if (mine.length > 0 || r.reward_credits !== 0)
        violations.push(
          `${r.status} referral of ${r.referee_id} has ${mine.length} reward transfers, reward ${r.reward_credits}`,
        );
      continue;
    }
    const expected = rewardFor(r.purchase_credits ?? 0);
    const leg = mine[0];
    const ok =
      mine.length === 1 &&
      leg!.kind === 'referral_reward' &&
      leg!.amount === expected &&
      r.reward_credits === expected &&
      leg!.receiver === r.referrer_id &&
      leg!.bucket === 'earned';
    if (!ok)
      violations.push(
        `rewarded referral of ${r.referee_id} (purchase of ${r.purchase_credits}): reward ${r.reward_credits}, ` +
          `${mine.length} transfers ${mine.map((l) => `${l.kind} ${l.amount} to ${l.receiver}:${l.bucket}`).join('; ')}, expected one of ${expected} to ${r.referrer_id}:earned`,
      );
  }
  for (const key of byKey.keys()) violations.push(`ledger operation ${key} belongs to no referral`);
  return violations;
}

/**
 * Every clawed-back referral's withholding (keyed by its referee) against its shortfall, and no
 * other withholding (a release, after a won dispute, gives one back and is not counted here).
 */
async function withholdingViolations(
  sql: Sql,
): Promise<{ checked: number; violations: string[]; summary: string }> {
  const rows = await sql<
    { key: string | null; expected: number | null; withheld: number | null; receiver: boolean }[]
  >`
    WITH short AS (
      SELECT 'referral-shortfall:' || r.referee_id AS key, r.referrer_id,
             r.reward_credits - coalesce(r.clawed_back_credits, 0) AS expected
      FROM referrals r WHERE r.status = 'clawed_back' AND r.reward_credits > coalesce(r.clawed_back_credits, 0))
    SELECT coalesce(s.key, w.operation_key) AS key, s.expected, w.amount AS withheld,
           coalesce(a.user_id = s.referrer_id AND a.bucket = 'earned', false) AS receiver
    FROM short s
    FULL JOIN (SELECT * FROM withholdings WHERE releases IS NULL) w ON w.operation_key = s.key
    LEFT JOIN accounts a ON a.id = w.account_id`;
  const violations = rows.flatMap((r) =>
    r.expected !== null && r.withheld === r.expected && r.receiver
      ? []
      : [
          `${r.key}: shortfall ${r.expected ?? 'none'}, withheld ${r.withheld ?? 'nothing'}${r.receiver ? '' : ' (not from the referrer’s earned bucket)'}`,
        ],
  );
  const total = rows.reduce((s, r) => s + (r.withheld ?? 0), 0);
  return { checked: rows.length, violations, summary: `${rows.length} withheld, ${total} credits` };
}

/** Per referrer and UTC month: rewards ≤ cap, and a monthly_cap rejection only when the cap was full. */
function capViolations(rows: ReferralRow[]): { checked: number; violations: string[]; summary: string } {
  const months = new Map<string, { rewarded: number; capped: number }>();
  for (const r of rows) {
    if (!r.month) continue;
    const counted = (r.status === 'rewarded' || r.status === 'clawed_back') && r.reward_credits > 0;
    const capped = r.reason === 'monthly_cap';
    if (!counted && !capped) continue;
    const key = `${r.referrer_id} in ${r.month}`;
    const m = months.get(key) ?? { rewarded: 0, capped: 0 };
    if (counted) m.rewarded++;
    if (capped) m.capped++;
    months.set(key, m);
  }
  const violations = [...months.entries()].flatMap(([key, m]) =>
    m.rewarded > MONTHLY_CAP || (m.capped > 0 && m.rewarded < MONTHLY_CAP)
      ? [`referrer ${key}: ${m.rewarded} rewards, ${m.capped} rejected for the cap`]
      : [],
  );
  const full = [...months.values()].filter((m) => m.capped > 0);
  const summary = full.length
    ? `${full.length} referrer${full.length > 1 ? 's' : ''} over the cap: ${full.map((m) => `${m.rewarded} rewarded, ${m.capped} monthly_cap`).join('; ')}`
    : 'no referrer reached the cap';
  return { checked: months.size, violations, summary };
}

/** Each referrer's own view: its code, the net rewards the ledger paid it, its referrals' number and statuses. */
async function referralViewViolations(
  sql: Sql,
  journal: Journal,
  api: ApiClient,
  rows: ReferralRow[],
): Promise<string[]> {
  const ids = journal.referrers.map((r) => r.user.id);
  const nets = await sql<{ user_id: string; net: number }[]>`
    SELECT user_id, sum(amount)::bigint AS net FROM (
      SELECT a.user_id::text, t.amount FROM transfers t JOIN accounts a ON a.id = t.credit_account_id
      WHERE t.kind = 'referral_reward' AND a.user_id = ANY(${ids}::uuid[])
      UNION ALL
      SELECT a.user_id::text, -t.amount FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
      WHERE t.kind = 'referral_clawback' AND a.user_id = ANY(${ids}::uuid[])) x
    GROUP BY user_id`;
  const netOf = new Map(nets.map((n) => [n.user_id, n.net]));
  const violations: string[] = [];
  for (const referrer of journal.referrers) {
    const answer = await api.call({
      kind: 'referrals (read)',
      method: 'GET',
      path: '/v1/referrals?limit=500',
      key: referrer.user.apiKey,
    });
    const parsed = summary.safeParse(answer.body);
    if (answer.status !== 200 || !parsed.success) {
      violations.push(`referrer ${referrer.user.id}: GET /v1/referrals answered ${answer.status}`);
      continue;
    }
    const view = parsed.data;
    const mine = rows.filter((r) => r.referrer_id === referrer.user.id);
    const ledger = netOf.get(referrer.user.id) ?? 0;
    const count = (statuses: string[]) =>
      [...new Set(statuses)]
        .sort()
        .map((s) => `${s}×${statuses.filter((x) => x === s).length}`)
        .join(' ');
    const problems = [
      ...(view.referralCode === referrer.user.referralCode ? [] : [`code ${view.referralCode}`]),
      ...(view.rewardsTotal === ledger
        ? []
        : [`rewardsTotal ${view.rewardsTotal}, the ledger paid ${ledger}`]),
      ...(view.referredCount === mine.length
        ? []
        : [`referredCount ${view.referredCount}, ${mine.length} referrals`]),
      ...(mine.length <= 500 && count(view.referred.map((r) => r.status)) !== count(mine.map((r) => r.status))
        ? [
            `statuses ${count(view.referred.map((r) => r.status))}, referrals ${count(mine.map((r) => r.status))}`,
          ]
        : []),
    ];
    if (problems.length > 0)
      violations.push(`referrer ${referrer.user.id} (${referrer.kind}): ${problems.join('; ')}`);
  }
  return violations;
}

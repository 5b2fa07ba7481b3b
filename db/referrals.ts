/**
 * Referral rows (db/migrations/013_referrals.sql). The money moves through the ledger
 * (app/referrals.ts); these functions decide and record, each step conditional, so a retried
 * activity or two purchases completing at once decide a referral once and take a reward back once.
 */
import { randomUUID } from 'node:crypto';
import type {
  ClawbackReason,
  ReferralDecision,
  ReferralFacts,
  ReferralRejection,
  ReferralStatus,
} from '../domain/referrals';
import type { Sql, Tx } from './pool';

export interface Referral {
  id: string;
  referrerId: string;
  refereeId: string;
  status: ReferralStatus;
  reason: ReferralRejection | null;
  /** The referee's first purchase, which decided the referral. */
  purchaseId: string | null;
  rewardCredits: number;
  rewardClearSeconds: number | null;
  rewardedAt: string | null;
  clawbackReason: ClawbackReason | null;
  /** What a claimed clawback plans to take (at most the reward). */
  clawbackCredits: number | null;
  /** What the clawback took; the reward minus this is the shortfall. */
  clawedBackCredits: number | null;
  createdAt: string;
}

interface ReferralRow {
  id: string;
  referrer_id: string;
  referee_id: string;
  status: ReferralStatus;
  reason: ReferralRejection | null;
  purchase_id: string | null;
  reward_credits: number;
  reward_clear_seconds: number | null;
  rewarded_at: Date | null;
  clawback_reason: ClawbackReason | null;
  clawback_credits: number | null;
  clawed_back_credits: number | null;
  created_at: Date;
}

function toReferral(row: ReferralRow): Referral {
  return {
    id: row.id,
    referrerId: row.referrer_id,
    refereeId: row.referee_id,
    status: row.status,
    reason: row.reason,
    purchaseId: row.purchase_id,
    rewardCredits: row.reward_credits,
    rewardClearSeconds: row.reward_clear_seconds,
    rewardedAt: row.rewarded_at?.toISOString() ?? null,
    clawbackReason: row.clawback_reason,
    clawbackCredits: row.clawback_credits,
    clawedBackCredits: row.clawed_back_credits,
    createdAt: row.created_at.toISOString(),
  };
}

/** The ledger key of a referee's reward: one per referee, so the ledger pays it at most once. */
export function rewardKey(refereeId: string): string {
  return `referral:${refereeId}`;
}

/** The ledger key of what a short clawback withholds from the referrer: one per referee. */
export function shortfallWithholdingKey(refereeId: string): string {
  return `referral-shortfall:${refereeId}`;
}

/** The ledger key of the reward's clawback: one per referee, like the reward. */
export function clawbackKey(refereeId: string): string {
  return `referral-clawback:${refereeId}`;
}

/**
 * Records a referred sign-up, inside the sign-up's transaction (db/users.ts createUser), so the
 * user and the referral exist together or not at all. A sign-up that is the referrer under
 * another spelling of their email is recorded as rejected at once (DESIGN.md §11).
 */
export async function insertReferral(
  tx: Tx,
  input: { referrerId: string; refereeId: string; rejected?: 'same_person' | undefined },
): Promise<void> {
  if (input.rejected) {
    await tx`
      INSERT INTO referrals (id, referrer_id, referee_id, status, reason, decided_at)
      VALUES (${randomUUID()}, ${input.referrerId}, ${input.refereeId}, 'rejected', ${input.rejected}, now())`;
    return;
  }
  await tx`
    INSERT INTO referrals (id, referrer_id, referee_id)
    VALUES (${randomUUID()}, ${input.referrerId}, ${input.refereeId})`;
}

/**
 * Any constant: the first half of the per-referrer advisory lock that serialises what is decided
 * about a referrer's rewards: the monthly cap, and a card the referrer shares with a referee.
 */
const REFERRER_LOCK = 7_241_013;

/**
 * Decides the referee's referral on the credit of `purchaseId`, if that is their first paid
 * purchase, once. Returns the referral when this purchase decided it (now or on an earlier try:
 * a retried activity gets the same answer), null when there is nothing for this purchase to do
 * (no referral, rejected at sign-up, not the first purchase, or decided by another purchase).
 *
 * Race safety, all in one transaction:
 * - the referral row is locked first, so two first purchases completing at once decide it one
 *   after the other, and the second finds it decided (purchase_id is set, and UNIQUE);
 * - "first" is the earliest paid purchase by (completed_at, id): whichever of two concurrent ones
 *   reaches the lock second sees the other, or sees the referral already decided;
 * - the monthly cap takes a per-referrer advisory lock before counting, so two referees of one
 *   referrer cannot both take the last reward of the month: the second counts the first's
 *   decision (committed before the lock was released; READ COMMITTED reads it).
 */
export async function decideFirstPurchase(
  sql: Sql,
  input: { purchaseId: string; refereeId: string; cardFingerprint: string | null; clearSeconds: number },
  decide: (facts: ReferralFacts) => ReferralDecision,
): Promise<Referral | null> {
  return sql.begin(async (tx) => {
    const [row] = await tx<ReferralRow[]>`
      SELECT * FROM referrals WHERE referee_id = ${input.refereeId} FOR UPDATE`;
    if (!row) return null;
    if (row.purchase_id !== null) return row.purchase_id === input.purchaseId ? toReferral(row) : null;
    if (row.status !== 'signed_up') return null;
    const [purchase] = await tx<{ credits: number; first: boolean }[]>`
      SELECT p.credits, NOT EXISTS (
        SELECT 1 FROM purchases e
        WHERE e.user_id = p.user_id AND e.completed_at IS NOT NULL
          AND (e.completed_at, e.id) < (p.completed_at, p.id)) AS first
      FROM purchases p
      WHERE p.id = ${input.purchaseId} AND p.user_id = ${input.refereeId} AND p.completed_at IS NOT NULL`;
    if (!purchase?.first) return null;
    const [people] = await tx<{ referrer_email: string; referee_email: string }[]>`
      SELECT r.email AS referrer_email, e.email AS referee_email
      FROM users r, users e WHERE r.id = ${row.referrer_id} AND e.id = ${row.referee_id}`;
    await tx`SELECT pg_advisory_xact_lock(${REFERRER_LOCK}, hashtext(${row.referrer_id}::uuid::text))`;
    // Read under the lock: a card the referrer records meanwhile is either seen here, or its
    // check (rewardingPurchasesPaidWith) waits for this decision and finds it.
    const [card] = await tx<{ shared: boolean }[]>`
      SELECT EXISTS (
        SELECT 1 FROM purchases
        WHERE user_id = ${row.referrer_id} AND card_fingerprint = ${input.cardFingerprint}) AS shared`;
    const [month] = await tx<{ rewards: number }[]>`
      SELECT count(*)::int AS rewards FROM referrals
      WHERE referrer_id = ${row.referrer_id} AND reward_credits > 0
        AND decided_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;
    const decision = decide({
      referrerEmail: people!.referrer_email,
      refereeEmail: people!.referee_email,
      // A NULL fingerprint (no card) matches nothing: `card_fingerprint = NULL` is never true.
      sharesCard: card!.shared,
      rewardsThisMonth: month!.rewards,
      purchaseCredits: purchase.credits,
    });
    const [decided] =
      decision.kind === 'reject'
        ? await tx<ReferralRow[]>`
            UPDATE referrals SET purchase_id = ${input.purchaseId}, decided_at = now(),
                                 status = 'rejected', reason = ${decision.reason}
            WHERE id = ${row.id} RETURNING *`
        : await tx<ReferralRow[]>`
            UPDATE referrals SET purchase_id = ${input.purchaseId}, decided_at = now(),
                                 reward_credits = ${decision.credits},
                                 reward_clear_seconds = ${input.clearSeconds}
            WHERE id = ${row.id} RETURNING *`;
    return toReferral(decided!);
  });
}

/**
 * The reward's ledger credit is made: the referral is rewarded. `rewarded_at` is the ledger
 * operation's own time, the moment its credit's clearing period started, so "before the reward
 * clears" below is exactly the ledger's clears_at (now() when nothing was credited: a 0 reward).
 */
export async function markReferralRewarded(sql: Sql, referral: Referral): Promise<void> {
  await sql`
    UPDATE referrals SET status = 'rewarded',
      rewarded_at = coalesce(
        (SELECT created_at FROM ledger_operations WHERE idempotency_key = ${rewardKey(referral.refereeId)}),
        now())
    WHERE id = ${referral.id} AND status = 'signed_up' AND purchase_id IS NOT NULL`;
}

/** The referral that `purchaseId` decided, if any. */
export async function findReferralByPurchase(sql: Sql, purchaseId: string): Promise<Referral | null> {
  const [row] = await sql<ReferralRow[]>`SELECT * FROM referrals WHERE purchase_id = ${purchaseId}`;
  return row ? toReferral(row) : null;
}

/**
 * Claims the clawback of a rewarded referral whose reward has not cleared yet, planning to take
 * `planned` credits (at most the reward). Once: a referral already claimed is returned as it was
 * claimed (a retried or concurrent clawback continues that one). Null when there is nothing to
 * take back: not rewarded (yet), or the reward has cleared (it may have been withdrawn).
 */
export async function claimClawback(
  sql: Sql,
  input: { id: string; reason: ClawbackReason; planned: number },
): Promise<Referral | null> {
  const [claimed] = await sql<ReferralRow[]>`
    UPDATE referrals SET clawback_reason = ${input.reason},
                         clawback_credits = LEAST(${input.planned}::bigint, reward_credits)
    WHERE id = ${input.id} AND status = 'rewarded' AND clawback_reason IS NULL
      AND now() < rewarded_at + make_interval(secs => reward_clear_seconds)
    RETURNING *`;
  if (claimed) return toReferral(claimed);
  const [row] = await sql<ReferralRow[]>`SELECT * FROM referrals WHERE id = ${input.id}`;
  return row?.clawback_reason ? toReferral(row) : null;
}

/**
 * The referrer's earned bucket no longer holds what the clawback planned (it was spent between
 * the plan and the take): plan at most `available`. Never raised, so concurrent clawbacks of one
 * referral converge on one amount; returns the plan now in force.
 */
export async function lowerClawbackPlan(sql: Sql, id: string, available: number): Promise<number> {
  const [row] = await sql<{ clawback_credits: number }[]>`
    UPDATE referrals SET clawback_credits = LEAST(clawback_credits, ${Math.max(0, available)}::bigint)
    WHERE id = ${id} AND clawback_reason IS NOT NULL
    RETURNING clawback_credits`;
  return row?.clawback_credits ?? 0;
}

/**
 * The clawback is done: the referral is clawed_back, with what the ledger operation actually
 * took (its stored result; 0 when nothing was left to take). Read from the ledger, not passed in,
 * so whichever of two concurrent clawbacks finishes last records the one amount that moved.
 */
export async function finishClawback(sql: Sql, referral: Referral): Promise<Referral> {
  const [row] = await sql<ReferralRow[]>`
    UPDATE referrals SET status = 'clawed_back', clawed_back_at = coalesce(clawed_back_at, now()),
      clawed_back_credits = coalesce(
        (SELECT (result->>'amount')::bigint FROM ledger_operations
         WHERE idempotency_key = ${clawbackKey(referral.refereeId)}),
        0)
    WHERE id = ${referral.id} AND clawback_reason IS NOT NULL AND status IN ('rewarded', 'clawed_back')
    RETURNING *`;
  return toReferral(row!);
}

/** One referred sign-up as its referrer sees it. */
export interface ReferredUser {
  email: string;
  signedUpAt: string;
  status: ReferralStatus;
  reason: ReferralRejection | null;
  rewardCredits: number;
  clawedBackCredits: number | null;
  clawbackReason: ClawbackReason | null;
}

/** The referrer's referrals, newest first, and the credits they earned in all (net of clawbacks). */
export async function listReferrals(
  sql: Sql,
  referrerId: string,
  limit: number,
): Promise<{ referred: ReferredUser[]; total: number; rewardsTotal: number }> {
  const [rows, [totals]] = await Promise.all([
    sql<
      {
        email: string;
        created_at: Date;
        status: ReferralStatus;
        reason: ReferralRejection | null;
        reward_credits: number;
        clawed_back_credits: number | null;
        clawback_reason: ClawbackReason | null;
      }[]
    >`
      SELECT u.email, r.created_at, r.status, r.reason, r.reward_credits, r.clawed_back_credits,
             r.clawback_reason
      FROM referrals r JOIN users u ON u.id = r.referee_id
      WHERE r.referrer_id = ${referrerId}
      ORDER BY r.created_at DESC, r.id LIMIT ${limit}`,
    sql<{ total: number; rewards_total: number }[]>`
      SELECT count(*)::int AS total,
             coalesce(sum(CASE WHEN status IN ('rewarded', 'clawed_back')
                               THEN reward_credits - coalesce(clawed_back_credits, 0) ELSE 0 END), 0)::bigint
               AS rewards_total
      FROM referrals WHERE referrer_id = ${referrerId}`,
  ]);
  return {
    referred: rows.map((r) => ({
      email: r.email,
      signedUpAt: r.created_at.toISOString(),
      status: r.status,
      reason: r.reason,
      rewardCredits: r.reward_credits,
      clawedBackCredits: r.clawed_back_credits,
      clawbackReason: r.clawback_reason,
    })),
    total: totals?.total ?? 0,
    rewardsTotal: totals?.rewards_total ?? 0,
  };
}

/**
 * The purchases that decided this referrer's rewards (paid or about to be) and were paid with
 * `cardFingerprint`: a referrer now paying with that card shares it with those referees.
 */
export async function rewardingPurchasesPaidWith(
  sql: Sql,
  input: { referrerId: string; cardFingerprint: string },
): Promise<string[]> {
  // After the card is recorded, under the referrer's lock: a referee's decision in flight either
  // committed before (and is found here) or reads the card after (and rejects).
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${REFERRER_LOCK}, hashtext(${input.referrerId}::uuid::text))`;
    const rows = await tx<{ purchase_id: string }[]>`
      SELECT r.purchase_id FROM referrals r JOIN purchases p ON p.id = r.purchase_id
      WHERE r.referrer_id = ${input.referrerId} AND r.status IN ('signed_up', 'rewarded')
        AND r.reward_credits > 0 AND p.card_fingerprint = ${input.cardFingerprint}
      ORDER BY r.purchase_id`;
    return rows.map((r) => r.purchase_id);
  });
}

/** True when some user has this referral code (codes are upper case; links may not be). */
export async function referralCodeExists(sql: Sql, code: string): Promise<boolean> {
  const [row] = await sql<{ id: string }[]>`
    SELECT id FROM users WHERE referral_code = ${code.toUpperCase()}`;
  return row !== undefined;
}

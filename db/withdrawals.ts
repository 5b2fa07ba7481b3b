import type { WithdrawalStatus } from '../domain';
import type { Sql } from './pool';

export { WITHDRAWAL_STATUSES, type WithdrawalStatus } from '../domain';

/** A withdrawal as stored: its money is the ledger hold `holdId` (db/ledger), not these numbers. */
export interface Withdrawal {
  id: string;
  userId: string;
  credits: number;
  amountCents: number;
  currency: string;
  status: WithdrawalStatus;
  holdId: string;
  /** The Stripe Connect account the money goes to. */
  destination: string;
  stripeTransferId: string | null;
  /** Why it was rejected (the operator's words) or why the transfer failed. */
  reason: string | null;
  /** Undecided by then, it expires and its credits are released. */
  expiresAt: string;
  createdAt: string;
  decidedAt: string | null;
}

/** The final statuses: a withdrawal leaves pending_approval for one of them, once. */
export type WithdrawalOutcomeStatus = Exclude<WithdrawalStatus, 'pending_approval'>;

interface WithdrawalRow {
  id: string;
  user_id: string;
  credits: number;
  amount_cents: number;
  currency: string;
  status: WithdrawalStatus;
  hold_id: string;
  destination: string;
  stripe_transfer_id: string | null;
  reason: string | null;
  expires_at: Date;
  created_at: Date;
  decided_at: Date | null;
}

function toWithdrawal(r: WithdrawalRow): Withdrawal {
  return {
    id: r.id,
    userId: r.user_id,
    credits: r.credits,
    amountCents: r.amount_cents,
    currency: r.currency,
    status: r.status,
    holdId: r.hold_id,
    destination: r.destination,
    stripeTransferId: r.stripe_transfer_id,
    reason: r.reason,
    expiresAt: r.expires_at.toISOString(),
    createdAt: r.created_at.toISOString(),
    decidedAt: r.decided_at?.toISOString() ?? null,
  };
}

/**
 * Records a withdrawal whose credits are held; `created` is false when the row was there already
 * (a retried request with the same idempotency key, or two of them racing).
 */
export async function insertWithdrawal(
  sql: Sql,
  w: {
    id: string;
    userId: string;
    credits: number;
    amountCents: number;
    currency: string;
    holdId: string;
    destination: string;
    expiresAt: string;
  },
): Promise<{ created: boolean; withdrawal: Withdrawal }> {
  const inserted = await sql`
    INSERT INTO withdrawals (id, user_id, credits, amount_cents, currency, hold_id, destination, expires_at)
    VALUES (${w.id}, ${w.userId}, ${w.credits}, ${w.amountCents}, ${w.currency}, ${w.holdId},
            ${w.destination}, ${w.expiresAt})
    ON CONFLICT (id) DO NOTHING RETURNING id`;
  return { created: inserted.length === 1, withdrawal: (await findWithdrawal(sql, w.id))! };
}

export async function findWithdrawal(sql: Sql, id: string): Promise<Withdrawal | null> {
  const [row] = await sql<WithdrawalRow[]>`SELECT * FROM withdrawals WHERE id = ${id}`;
  return row ? toWithdrawal(row) : null;
}

/**
 * A page of a withdrawal list. The list functions below take `after`, the id of the previous
 * page's last withdrawal (its place in the order, whatever its status is now), and answer null
 * when no such withdrawal is in the list.
 */
export interface WithdrawalPage {
  withdrawals: Withdrawal[];
  /** Whether more follow the page. */
  more: boolean;
}

/** The user's withdrawals, newest first, `limit` after their withdrawal `after`; null if it is not theirs. */
export async function listWithdrawals(
  sql: Sql,
  userId: string,
  page: { limit: number; after?: string | undefined },
): Promise<WithdrawalPage | null> {
  if (!(await isCursor(sql, page.after, userId))) return null;
  const rows = await sql<WithdrawalRow[]>`
    SELECT * FROM withdrawals
    WHERE user_id = ${userId} AND ${after(sql, page.after, '<')}
    ORDER BY created_at DESC, id DESC LIMIT ${page.limit + 1}`;
  return pageOf(rows, page.limit);
}

/**
 * Every user's withdrawals for the operator, oldest first (the queue to decide), optionally by
 * status, `limit` after the withdrawal `after`; null if there is no such withdrawal.
 */
export async function listAllWithdrawals(
  sql: Sql,
  options: { status?: WithdrawalStatus | undefined; limit: number; after?: string | undefined },
): Promise<WithdrawalPage | null> {
  if (!(await isCursor(sql, options.after))) return null;
  const status = options.status ? sql`status = ${options.status}` : sql`true`;
  const rows = await sql<WithdrawalRow[]>`
    SELECT * FROM withdrawals WHERE ${status} AND ${after(sql, options.after, '>')}
    ORDER BY created_at, id LIMIT ${options.limit + 1}`;
  return pageOf(rows, options.limit);
}

/** Whether `after` (if given) names a withdrawal (of `userId`, if given). */
async function isCursor(sql: Sql, after: string | undefined, userId?: string): Promise<boolean> {
  if (after === undefined) return true;
  const [row] = await sql<{ id: string }[]>`
    SELECT id FROM withdrawals
    WHERE id = ${after} ${userId === undefined ? sql`` : sql`AND user_id = ${userId}`}`;
  return row !== undefined;
}

/**
 * The rows past the cursor's place in (created_at, id) order. Its created_at is read in the
 * database: a JavaScript Date would drop the microseconds and put the cursor's own row after it.
 */
function after(sql: Sql, cursor: string | undefined, direction: '<' | '>') {
  if (cursor === undefined) return sql`true`;
  const place = sql`(SELECT created_at, id FROM withdrawals WHERE id = ${cursor})`;
  return direction === '<' ? sql`(created_at, id) < ${place}` : sql`(created_at, id) > ${place}`;
}

function pageOf(rows: WithdrawalRow[], limit: number): WithdrawalPage {
  return { withdrawals: rows.slice(0, limit).map(toWithdrawal), more: rows.length > limit };
}

/** The latest decided (or expired) withdrawals, newest first: the operator page's history. */
export async function recentlyClosedWithdrawals(sql: Sql, limit: number): Promise<Withdrawal[]> {
  const rows = await sql<WithdrawalRow[]>`
    SELECT * FROM withdrawals WHERE status <> 'pending_approval'
    ORDER BY decided_at DESC NULLS LAST, id LIMIT ${limit}`;
  return rows.map(toWithdrawal);
}

/**
 * Notes the Stripe transfer as soon as it exists, before the ledger post: a payout interrupted
 * between the two still shows where the money went. The first id stays (the transfer is keyed
 * by the withdrawal, so a retry gets the same one anyway).
 */
export async function recordTransfer(sql: Sql, id: string, transferId: string): Promise<void> {
  await sql`
    UPDATE withdrawals SET stripe_transfer_id = ${transferId}
    WHERE id = ${id} AND stripe_transfer_id IS NULL`;
}

/**
 * pending_approval → one final status, once: a retried or late step finds the row closed and
 * changes nothing. Returns the row as it is afterwards.
 */
export async function closeWithdrawal(
  sql: Sql,
  id: string,
  outcome: { status: WithdrawalOutcomeStatus; reason?: string | null | undefined },
): Promise<Withdrawal | null> {
  await sql`
    UPDATE withdrawals SET status = ${outcome.status}, reason = ${outcome.reason ?? null}, decided_at = now()
    WHERE id = ${id} AND status = 'pending_approval'`;
  return findWithdrawal(sql, id);
}

import { findUserById, type User } from '../db/users';
import { formatCredits } from '../domain';
import type { Mailer } from '../mail/mailer';

export type NoticeUser = Pick<User, 'id' | 'email' | 'lowBalanceThreshold'>;

/** A debit as the notice rule sees it: what it took and what was left right after. */
export interface Debited {
  userId: string;
  /** The debit's idempotency key: the notice is keyed by it, so a replay never sends a second. */
  debitKey: string;
  charged: number;
  availableAfter: number;
  /** The user, when the caller already has it (the usage path, from the key cache); else looked up. */
  user?: NoticeUser | undefined;
}

/**
 * Only the debit that takes the balance from at or above the threshold to below it crosses
 * (concurrent debits are ordered by the ledger, so exactly one of them crosses).
 */
export function crossesThreshold(threshold: number | null, charged: number, availableAfter: number): boolean {
  if (threshold === null) return false;
  return availableAfter + charged >= threshold && availableAfter < threshold;
}

/** One low-balance notice per crossing; true when this call recorded it. */
export async function noticeIfLowBalanceCrossed(
  deps: { sql: Parameters<typeof findUserById>[0]; mailer: Mailer },
  debited: Debited,
): Promise<boolean> {
  const user = debited.user ?? (await findUserById(deps.sql, debited.userId));
  if (!user) return false;
  const threshold = user.lowBalanceThreshold;
  if (threshold === null || !crossesThreshold(threshold, debited.charged, debited.availableAfter))
    return false;
  const { sent } = await deps.mailer.send({
    dedupeKey: `low-balance:${debited.debitKey}`,
    userId: user.id,
    kind: 'low_balance',
    recipient: user.email,
    subject: `Your balance is below ${formatCredits(threshold)} credits`,
    body: [
      `Your available balance is now ${formatCredits(debited.availableAfter)} credits,`,
      `below the ${formatCredits(threshold)} credits you asked us to watch for.`,
      'Buy more credits on your credits page so your projects keep running.',
    ].join('\n'),
  });
  return sent;
}

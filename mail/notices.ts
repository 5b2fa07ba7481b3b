import { formatCredits } from '../domain';
import type { Mailer } from './mailer';

/**
 * One low-balance notice per crossing: only the debit that takes the balance from at or above
 * the threshold to below it sends one (concurrent debits are ordered by the ledger, so exactly
 * one of them crosses). Keyed by that debit, so a replay never sends a second.
 */
export async function noticeIfLowBalanceCrossed(
  mailer: Mailer,
  input: {
    user: { id: string; email: string; lowBalanceThreshold: number | null };
    debitKey: string;
    charged: number;
    availableAfter: number;
  },
): Promise<boolean> {
  const threshold = input.user.lowBalanceThreshold;
  if (threshold === null) return false;
  const before = input.availableAfter + input.charged;
  if (!(before >= threshold && input.availableAfter < threshold)) return false;
  const { sent } = await mailer.send({
    dedupeKey: `low-balance:${input.debitKey}`,
    userId: input.user.id,
    kind: 'low_balance',
    recipient: input.user.email,
    subject: `Your balance is below ${formatCredits(threshold)} credits`,
    body: [
      `Your available balance is now ${formatCredits(input.availableAfter)} credits,`,
      `below the ${formatCredits(threshold)} credits you asked us to watch for.`,
      'Buy more credits on your credits page so your projects keep running.',
    ].join('\n'),
  });
  return sent;
}

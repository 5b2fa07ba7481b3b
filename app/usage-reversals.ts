/**
 * Reversals of failed AI actions (DESIGN.md §12): the service that reported a usage event takes
 * its charge back, with a reason, within a window after the charge. The charge and its creator
 * share are reversed in one ledger operation keyed by the event, exactly once.
 *
 * The creator may have spent their share (or be withdrawing it) by then. The reversal is never
 * refused for that: the creator gives back what their earned bucket still has, and the rest is
 * the shortfall (recorded), which the user's refund withholds: the charge comes back less what
 * the creator could not return. A full refund on top of a share already spent would pay out
 * credits nobody paid for: spent on another creator's agent, the share pays that creator a share
 * of its own, which clears and is withdrawn as cash, and the payer reverses again (a loop of
 * three accounts). Earned credits are spent last, so an honest creator's share is rarely short.
 * The ledger caps and withholds under the accounts' locks (`capWithdrawable`), so "what they
 * still have" cannot race their spending.
 */
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import {
  chargeToReverse,
  findUsageReversal,
  recordUsageReversal,
  type UsageReversal,
} from '../db/usage-reversals';
import { Conflict, NotFound } from '../domain';
import type { BalanceEvents } from './balance-events';

/** How long after a charge it may be reversed: the product's rule is 7 days. */
export const USAGE_REVERSAL_WINDOW_SECONDS = 7 * 24 * 3600;

export interface UsageReversalSettings {
  /** A charge may be reversed this long after it was made (tests shorten it). */
  windowSeconds: number;
}

export const DEFAULT_USAGE_REVERSAL_SETTINGS: UsageReversalSettings = {
  windowSeconds: USAGE_REVERSAL_WINDOW_SECONDS,
};

export interface UsageReversalDeps {
  sql: Sql;
  ledger: Ledger;
  balanceEvents: BalanceEvents;
  usageReversals: UsageReversalSettings;
}

export interface UsageReversalRequest {
  user: { id: string };
  eventId: string;
  reason: string;
}

export interface UsageReversalAnswer extends UsageReversal {
  /** The user's available balance now. */
  balance: number;
  /** True when the event was reversed before: this is that first reversal, nothing moved now. */
  replayed: boolean;
}

/** The ledger key of a usage event's charge (as app/usage.ts writes it) and of its reversal. */
export function usageKeys(userId: string, eventId: string): { charge: string; reversal: string } {
  return { charge: `usage:${userId}:${eventId}`, reversal: `usage-reversal:${userId}:${eventId}` };
}

/** "7 days", "1 hour", "90 seconds": a window in the largest whole unit. */
export function describeWindow(seconds: number): string {
  const units: [number, string][] = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

/**
 * Reverses the user's usage event once. The event is looked up under the user's own key, so
 * another user's event is as unknown as one never charged (404). A repeated or concurrent
 * request gets the first reversal (its reason too), whatever it says now; the window applies only
 * to a reversal that has not happened yet.
 */
export async function reverseUsage(
  deps: UsageReversalDeps,
  request: UsageReversalRequest,
): Promise<UsageReversalAnswer> {
  const { user, eventId, reason } = request;
  const keys = usageKeys(user.id, eventId);
  const earlier = await findUsageReversal(deps.sql, user.id, eventId);
  if (earlier) return answer(deps, earlier, true);

  const charge = await chargeToReverse(deps.sql, keys.charge, deps.usageReversals.windowSeconds);
  if (!charge) throw new NotFound(`eventId: no usage event ${eventId} was charged to this account`);
  // Reversed by this use case already but not recorded (the process stopped in between): the
  // ledger replays it below, whatever the time. Reversed any other way: not again.
  if (charge.reversedBy !== null && charge.reversedBy !== keys.reversal)
    throw new Conflict(`eventId: usage event ${eventId} was already reversed`);
  if (charge.reversedBy === null && !charge.withinWindow) {
    const window = describeWindow(deps.usageReversals.windowSeconds);
    throw new Conflict(
      `eventId: usage event ${eventId} was charged at ${charge.chargedAt}; a charge can be reversed only within ${window} of it`,
    );
  }

  const result = await deps.ledger.reverse({
    idempotencyKey: keys.reversal,
    operationKey: keys.charge,
    kind: 'usage_reversal',
    capWithdrawable: true,
  });
  if (!result.legs) throw new Error(`reversal ${keys.reversal} has no legs in its result`);
  const toUser = result.legs.filter((l) => l.toUserId === user.id);
  const fromCreator = result.legs.filter((l) => l.fromUserId !== null && l.fromUserId !== user.id);
  const creatorShareReversed = fromCreator.reduce((s, l) => s + l.reversed, 0);
  const { reversal, inserted } = await recordUsageReversal(deps.sql, {
    userId: user.id,
    eventId,
    chargeKey: keys.charge,
    reversalKey: keys.reversal,
    reason,
    reversedCredits: toUser.reduce((s, l) => s + l.reversed, 0),
    creatorShareReversed,
    creatorShareShortfall: fromCreator.reduce((s, l) => s + l.amount - l.reversed, 0),
  });
  if (inserted) {
    // The user's balance went up: their paused projects may go on.
    await deps.balanceEvents.credited({ userId: user.id, reason: 'other' });
    const creatorId = fromCreator[0]?.fromUserId;
    if (creatorId && creatorShareReversed > 0) {
      // The creator's went down: the same low-balance rule as any debit.
      await deps.balanceEvents.debited({
        userId: creatorId,
        debitKey: keys.reversal,
        charged: creatorShareReversed,
        availableAfter: (await deps.ledger.balance(creatorId)).available,
      });
    }
  }
  return answer(deps, reversal, !inserted);
}

async function answer(
  deps: UsageReversalDeps,
  reversal: UsageReversal,
  replayed: boolean,
): Promise<UsageReversalAnswer> {
  const { available } = await deps.ledger.balance(reversal.userId);
  return { ...reversal, balance: available, replayed };
}

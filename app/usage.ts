import { type DebitResult, type Ledger, requestHash } from '../db/ledger';
import type { Sql } from '../db/pool';
import type { RateCards } from '../db/rate-cards';
import { isRecorded } from '../db/usage';
import type { User } from '../db/users';
import { InsufficientCredits, type Price, priceUsage, type UsageInput, ValidationError } from '../domain';
import type { BalanceEvents } from './balance-events';
import { creatorShareFor } from './creator-share';
import type { EarningSettings } from './earning-settings';

/** The ledger path a usage charge takes; the one-transaction path exists for the benchmark's baseline. */
export type DebitPath = 'group-commit' | 'one-transaction';

/** One usage event, as parsed at the edge (api/schemas.ts `usageBody`). */
export interface UsageEvent extends UsageInput {
  eventId: string;
  agentId?: string | undefined;
}

export interface UsageCharge {
  charged: number;
  /** The available balance right after the charge. */
  balance: number;
  /** The price's details as stored with the charge (a replay returns the original). */
  memo: Record<string, unknown>;
  replayed: boolean;
}

export type UsageCharger = (user: User, event: UsageEvent) => Promise<UsageCharge>;

export interface UsageDeps {
  sql: Sql;
  ledger: Ledger;
  rateCards: RateCards;
  balanceEvents: BalanceEvents;
  earning: EarningSettings;
  debitPath?: DebitPath | undefined;
}

/** A 402 that says what the event costs and what the user has, in words a client can show. */
async function chargeOrExplain<T>(feature: string, charge: () => Promise<T>): Promise<T> {
  try {
    return await charge();
  } catch (error) {
    if (error instanceof InsufficientCredits) {
      throw new InsufficientCredits(error.needed, error.available, `this ${feature} event`);
    }
    throw error;
  }
}

/**
 * Charges one usage event: price it with the latest rate card, debit it (idempotent by eventId),
 * then the balance event (a crossing records its low-balance notice). The Express route and the
 * usage fast path both call it, so both answer alike.
 */
export function createUsageCharger(deps: UsageDeps): UsageCharger {
  const debit =
    deps.debitPath === 'one-transaction'
      ? deps.ledger.debitAlone.bind(deps.ledger)
      : deps.ledger.debit.bind(deps.ledger);
  return async (user, event) => {
    const card = await deps.rateCards.latest();
    const debitKey = `usage:${user.id}:${event.eventId}`;
    let price: Price;
    try {
      price = priceUsage(card, event);
    } catch (error) {
      // Today's card may not price an event charged earlier (a retired model): its replay still
      // gets the original. The amount below is then ignored: the ledger answers from the record.
      if (!(error instanceof ValidationError) || !(await isRecorded(deps.sql, debitKey))) throw error;
      price = { credits: 1, rateCardVersion: card.version, breakdown: [] };
    }
    // The agent's creator is paid in the same operation as the charge.
    const share = await creatorShareFor(deps, {
      payerId: user.id,
      agentId: event.agentId,
      charged: price.credits,
      rateCardVersion: price.rateCardVersion,
    });
    // A replay (same eventId, same body) returns the stored result even if prices changed since.
    const result: DebitResult = await chargeOrExplain(event.feature, () =>
      debit({
        idempotencyKey: debitKey,
        userId: user.id,
        amount: price.credits,
        kind: `usage:${event.feature}`,
        description: `${event.feature} (rate card v${price.rateCardVersion})`,
        // The request's identity is the user and the body, whatever the rate card says now.
        fingerprint: requestHash('usage', { ...event, userId: user.id }),
        agentId: event.agentId,
        cause: { type: 'usage_event', id: event.eventId },
        share,
        memo: {
          eventId: event.eventId,
          feature: event.feature,
          rateCardVersion: price.rateCardVersion,
          breakdown: price.breakdown,
          ...(event.agentId ? { agentId: event.agentId } : {}),
        },
      }),
    );
    if (!result.replayed) {
      // Before answering, so a client reading its notices right after sees it.
      await deps.balanceEvents.debited({
        userId: user.id,
        user,
        debitKey,
        charged: result.amount,
        availableAfter: result.availableAfter,
      });
    }
    return {
      charged: result.amount,
      balance: result.availableAfter,
      memo: result.memo ?? {},
      replayed: result.replayed === true,
    };
  };
}

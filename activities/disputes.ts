import type Stripe from 'stripe';
import type { BalanceEvents } from '../app/balance-events';
import { checkDispute, closeDispute, escrowDispute, openDispute } from '../app/disputes';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import type { InputOf } from './use-case-input';

export interface DisputeActivityDeps {
  sql: Sql;
  ledger: Ledger;
  stripe: Stripe;
  /** A won dispute releases the held credits: the user's paused projects hear about it. */
  balanceEvents: BalanceEvents;
}

/**
 * The dispute workflow's side effects, each a use case in app/disputes.ts and each idempotent:
 * the dispute's row moves forward once, every ledger step is keyed by the dispute.
 */
export function createDisputeActivities(deps: DisputeActivityDeps) {
  return {
    openDispute: (input: InputOf<typeof openDispute>) => openDispute(deps, input),
    escrowDispute: (input: InputOf<typeof escrowDispute>) => escrowDispute(deps, input),
    closeDispute: async (input: InputOf<typeof closeDispute>): Promise<void> => {
      await closeDispute(deps, input);
    },
    checkDispute: (input: InputOf<typeof checkDispute>) => checkDispute(deps, input),
  };
}

export type DisputeActivities = ReturnType<typeof createDisputeActivities>;

import type Stripe from 'stripe';
import type { BalanceEvents } from '../app/balance-events';
import { payWithdrawal, releaseWithdrawal, transferWithdrawal } from '../app/withdrawals';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import type { InputOf } from './use-case-input';

export interface WithdrawalActivityDeps {
  sql: Sql;
  ledger: Ledger;
  stripe: Stripe;
  /** A released withdrawal gives credits back: the user's paused projects hear about it. */
  balanceEvents: BalanceEvents;
}

/**
 * The withdrawal workflow's side effects, each a use case in app/withdrawals.ts and each
 * idempotent: the transfer is keyed by the withdrawal in Stripe, the ledger post and void by the
 * withdrawal in the ledger, the row moves out of pending_approval once.
 */
export function createWithdrawalActivities(deps: WithdrawalActivityDeps) {
  return {
    transferWithdrawal: (input: InputOf<typeof transferWithdrawal>) => transferWithdrawal(deps, input),
    payWithdrawal: async (input: InputOf<typeof payWithdrawal>): Promise<void> => {
      await payWithdrawal(deps, input);
    },
    releaseWithdrawal: async (input: InputOf<typeof releaseWithdrawal>): Promise<void> => {
      await releaseWithdrawal(deps, input);
    },
  };
}

export type WithdrawalActivities = ReturnType<typeof createWithdrawalActivities>;

import type Stripe from 'stripe';
import type { BalanceEvents } from '../app/balance-events';
import {
  claimOperatorRefundStep,
  completeOperatorRefund,
  failOperatorRefund,
  refundInStripe,
  sendRefundReceipt,
} from '../app/refunds';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import type { Mailer } from '../mail/mailer';
import type { InputOf } from './use-case-input';

export interface RefundActivityDeps {
  sql: Sql;
  ledger: Ledger;
  stripe: Stripe;
  mailer: Mailer;
  /** A failed refund gives the held credits back: the user's paused projects hear about it. */
  balanceEvents: BalanceEvents;
}

/**
 * The operator refund workflow's side effects, each a use case in app/refunds.ts and each
 * idempotent: the step is claimed once per refund, the Stripe refund is keyed by the refund, the
 * ledger post and void by the refund, the row leaves pending once, the receipt is deduped.
 */
export function createRefundActivities(deps: RefundActivityDeps) {
  return {
    claimOperatorRefundStep: (input: InputOf<typeof claimOperatorRefundStep>) =>
      claimOperatorRefundStep(deps, input),
    refundInStripe: (input: InputOf<typeof refundInStripe>) => refundInStripe(deps, input),
    completeOperatorRefund: async (input: InputOf<typeof completeOperatorRefund>): Promise<void> => {
      await completeOperatorRefund(deps, input);
    },
    failOperatorRefund: async (input: InputOf<typeof failOperatorRefund>): Promise<void> => {
      await failOperatorRefund(deps, input);
    },
    sendRefundReceipt: (input: InputOf<typeof sendRefundReceipt>) => sendRefundReceipt(deps, input),
  };
}

export type RefundActivities = ReturnType<typeof createRefundActivities>;

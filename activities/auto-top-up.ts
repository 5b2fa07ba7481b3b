import {
  type AutoTopUpStepDeps,
  autoTopUpInFlight,
  beginAutoTopUp,
  chargeSavedCard,
  checkAutoTopUpPayment,
  creditAutoTopUp,
  failAutoTopUp,
} from '../app/auto-top-up';
import type { InputOf } from './use-case-input';

export type { AutoTopUpAttempt, AutoTopUpPayment } from '../app/auto-top-up';

/**
 * The auto top-up workflow's side effects (DESIGN.md §13), thin wrappers over app/auto-top-up.ts,
 * each idempotent: the automatic purchase is keyed by the crossing, the PaymentIntent by the
 * purchase, the ledger credit by the PaymentIntent, the suspension notice by the purchase.
 * `autoTopUpInFlight` is for the project workflow: wait for a top-up in flight before pausing.
 */
export function createAutoTopUpActivities(deps: AutoTopUpStepDeps) {
  return {
    beginAutoTopUp: (input: InputOf<typeof beginAutoTopUp>) => beginAutoTopUp(deps, input),
    chargeSavedCard: (input: InputOf<typeof chargeSavedCard>) => chargeSavedCard(deps, input),
    checkAutoTopUpPayment: (input: InputOf<typeof checkAutoTopUpPayment>) =>
      checkAutoTopUpPayment(deps, input),
    creditAutoTopUp: (input: InputOf<typeof creditAutoTopUp>) => creditAutoTopUp(deps, input),
    failAutoTopUp: (input: InputOf<typeof failAutoTopUp>) => failAutoTopUp(deps, input),
    autoTopUpInFlight: (input: InputOf<typeof autoTopUpInFlight>) => autoTopUpInFlight(deps, input),
  };
}

export type AutoTopUpActivities = ReturnType<typeof createAutoTopUpActivities>;

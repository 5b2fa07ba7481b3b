import type { Ledger } from '../db/ledger';
import { createLedgerActivities } from './ledger';
import { createProjectActivities, type ProjectActivityDeps } from './projects';
import { createPurchaseActivities, type PurchaseActivityDeps } from './purchases';
import { createWithdrawalActivities, type WithdrawalActivityDeps } from './withdrawals';

export type ActivityDeps = PurchaseActivityDeps &
  ProjectActivityDeps &
  WithdrawalActivityDeps & { ledger: Ledger };

/** Every activity, built from its dependencies (the worker builds those). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createLedgerActivities(deps),
    ...createPurchaseActivities(deps),
    ...createProjectActivities(deps),
    ...createWithdrawalActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

/*
 * What each workflow may call, by concern. Workflows proxy exactly these (as types only), each
 * with the option preset for its concern (workflows/activity-options.ts), so a workflow cannot
 * call an activity it was not meant to, and a stub in a fast test names what it replaces.
 */

/** The ledger's hold sweeper. */
export type SweeperActivities = Pick<Activities, 'sweepExpiredHolds'>;

/** A project's money and progress steps (run as local activities). */
export type ProjectLedgerActivities = Pick<
  Activities,
  'chargePlanning' | 'reserveTask' | 'settleTask' | 'releaseTask' | 'setProjectStatus'
>;
/** The planner that turns a prompt into priced tasks. */
export type PlannerActivities = Pick<Activities, 'planTasks'>;
/** The executor that runs one task. */
export type ExecutorActivities = Pick<Activities, 'executeTask'>;
export type ProjectWorkflowActivities = ProjectLedgerActivities & PlannerActivities & ExecutorActivities;

/** A purchase's records and its ledger credit. */
export type PurchaseLedgerActivities = Pick<
  Activities,
  'createPurchaseRecord' | 'creditPurchase' | 'closePurchase' | 'announceTopUp'
>;
/** Stripe Checkout: open the session, ask Stripe about it when no webhook came. */
export type CheckoutActivities = Pick<Activities, 'createCheckoutSession' | 'pollCheckoutSession'>;
/** The receipt email. */
export type ReceiptActivities = Pick<Activities, 'sendReceipt'>;
/** Money back through Stripe: a duplicate charge. */
export type RefundStripeActivities = Pick<Activities, 'refundDuplicateCharge'>;
/** Credits back from the ledger: a payment refunded in Stripe. */
export type RefundLedgerActivities = Pick<Activities, 'reversePurchaseCredits' | 'takeBackRefundedCredits'>;
export type PurchaseWorkflowActivities = PurchaseLedgerActivities &
  CheckoutActivities &
  ReceiptActivities &
  RefundStripeActivities &
  RefundLedgerActivities;

/** A withdrawal's money and record: the hold posted when paid, voided when released. */
export type WithdrawalLedgerActivities = Pick<Activities, 'payWithdrawal' | 'releaseWithdrawal'>;
/** The payout itself: one Stripe transfer per withdrawal. */
export type WithdrawalStripeActivities = Pick<Activities, 'transferWithdrawal'>;
export type WithdrawalWorkflowActivities = WithdrawalLedgerActivities & WithdrawalStripeActivities;

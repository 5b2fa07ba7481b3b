import type { Ledger } from '../db/ledger';
import { createAutoTopUpActivities } from './auto-top-up';
import { createDisputeActivities } from './disputes';
import { createLedgerActivities } from './ledger';
import { createProjectActivities, type ProjectActivityDeps } from './projects';
import { createPurchaseActivities, type PurchaseActivityDeps } from './purchases';
import { createRefundActivities } from './refunds';
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
    ...createRefundActivities(deps),
    ...createDisputeActivities(deps),
    ...createAutoTopUpActivities(deps),
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
export type ProjectWorkflowActivities = ProjectLedgerActivities &
  PlannerActivities &
  ExecutorActivities &
  AutoTopUpWaitActivities;

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

/** An operator refund's records and ledger steps: claim the payment's step, then post or void the hold. */
export type OperatorRefundLedgerActivities = Pick<
  Activities,
  'claimOperatorRefundStep' | 'completeOperatorRefund' | 'failOperatorRefund'
>;
/** The partial refund itself: one Stripe refund per operator refund. */
export type OperatorRefundStripeActivities = Pick<Activities, 'refundInStripe'>;
/** The refund's receipt. */
export type RefundReceiptActivities = Pick<Activities, 'sendRefundReceipt'>;
export type OperatorRefundWorkflowActivities = OperatorRefundLedgerActivities &
  OperatorRefundStripeActivities &
  RefundReceiptActivities;

/** A dispute's ledger steps: hold when it opens, escrow when it outlives the hold, settle when it closes. */
export type DisputeLedgerActivities = Pick<Activities, 'openDispute' | 'escrowDispute' | 'closeDispute'>;
/** Asking Stripe how a dispute stands, when its closed event has not come. */
export type DisputeStripeActivities = Pick<Activities, 'checkDispute'>;
export type DisputeWorkflowActivities = DisputeLedgerActivities & DisputeStripeActivities;

/** Auto top-up's records and ledger steps: open the automatic purchase, credit it or count its failure. */
export type AutoTopUpLedgerActivities = Pick<
  Activities,
  'beginAutoTopUp' | 'creditAutoTopUp' | 'failAutoTopUp'
>;
/** The off-session charge on the saved card, and asking Stripe about one still processing. */
export type AutoTopUpStripeActivities = Pick<Activities, 'chargeSavedCard' | 'checkAutoTopUpPayment'>;
export type AutoTopUpWorkflowActivities = AutoTopUpLedgerActivities &
  AutoTopUpStripeActivities &
  ReceiptActivities;
/** For a project about to pause: is an auto top-up of its user being charged? */
export type AutoTopUpWaitActivities = Pick<Activities, 'autoTopUpInFlight'>;

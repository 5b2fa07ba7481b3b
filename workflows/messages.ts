/**
 * Every task queue, signal, query and update, defined once: api/, worker/, workflows/ and the
 * tests import them from here. Each message takes one input object.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PurchaseStatus } from '../domain/purchases';

export const TASK_QUEUE = 'credits-billing';

/** Business-derived workflow ids: a retried start can never create a second run. */
export const workflowIds = {
  holdSweeper: () => 'ledger-hold-sweeper',
  purchase: (purchaseId: string) => `purchase-${purchaseId}`,
  duplicateCharge: (paymentIntentId: string) => `duplicate-charge-${paymentIntentId}`,
  /** One run per refunded amount: each `charge.refunded` of a payment names a new cumulative total. */
  purchaseRefunded: (paymentIntentId: string, refundedThroughCents: number) =>
    `purchase-refunded-${paymentIntentId}-${refundedThroughCents}`,
  project: (projectId: string) => `project-${projectId}`,
  withdrawal: (withdrawalId: string) => `withdrawal-${withdrawalId}`,
  operatorRefund: (refundId: string) => `operator-refund-${refundId}`,
  dispute: (disputeId: string) => `dispute-${disputeId}`,
  /** One per user: it serializes the user's auto top-ups (DESIGN.md §13). */
  autoTopUp: (userId: string) => `auto-top-up-${userId}`,
};

// ── Purchases ────────────────────────────────────────────────────────────────────────────────

export interface PurchaseInput {
  purchaseId: string;
  userId: string;
  email: string;
  packageId: string;
  packageName: string;
  credits: number;
  priceCents: number;
  currency: string;
  successUrl: string;
  cancelUrl: string;
  /** Unix seconds, fixed once by the API so a retried session create sends identical params. */
  expiresAt: number;
  /** How often to ask Stripe when no webhook has arrived (a lost webhook heals by itself). */
  pollIntervalSeconds: number;
  /**
   * The buyer's Stripe Customer (app/customers.ts): Checkout pays as them and saves the card for
   * off-session use (auto top-up). Absent on runs started before saved cards.
   */
  customerId?: string;
}

export type { PurchaseOutcomeStatus, PurchaseStatus } from '../domain/purchases';

export interface PaymentSucceeded {
  sessionId: string;
  paymentIntentId: string;
  source: 'webhook' | 'poll';
}

export interface PurchaseProgress {
  status: PurchaseStatus;
  checkoutUrl: string | null;
  paymentIntentId: string | null;
  duplicatesRefunded: string[];
}

/** A successful charge for a purchase that was already credited: it is refunded. */
export interface DuplicateChargeInput {
  purchaseId: string;
  paymentIntentId: string;
}

/** The credited payment was refunded in Stripe (in part or in full). */
export interface PurchaseRefundedInput {
  purchaseId: string;
  paymentIntentId: string;
  /**
   * The charge's `amount_refunded` when this refund happened (cumulative, minor units). Runs
   * started before partial refunds were handled have none: they take back the whole purchase.
   */
  refundedThroughCents?: number;
}

export const paymentSucceededSignal = defineSignal<[PaymentSucceeded]>('paymentSucceeded');
export const paymentFailedSignal = defineSignal<[{ reason: string }]>('paymentFailed');
export const sessionExpiredSignal = defineSignal<[{ sessionId: string }]>('sessionExpired');
/** Waits until the Checkout Session exists and returns where to send the buyer. */
export const checkoutUpdate = defineUpdate<{ sessionId: string; checkoutUrl: string }>('checkout');
export const purchaseProgressQuery = defineQuery<PurchaseProgress>('purchaseProgress');

// ── Projects ─────────────────────────────────────────────────────────────────────────────────

/** Sent to a user's paused projects whenever their balance increases. */
export interface TopUp {
  reason: 'purchase' | 'grant' | 'hold_released' | 'referral_reward' | 'other';
  available: number;
}
export const topUpSignal = defineSignal<[TopUp]>('topUp');

import type { ProjectProgress } from '../domain/projects';

export type { PausedReason, ProjectProgress, ProjectStatus } from '../domain/projects';

export interface ProjectTask {
  title: string;
  size: 'small' | 'medium' | 'large';
  estimate: number;
}

/** What a run carries into the next after continue-as-new: everything done so far. */
export interface ProjectCarry {
  tasks: ProjectTask[] | null;
  nextTask: number;
  creditsSpent: number;
  tasksCompleted: number;
}

export interface ProjectInput {
  projectId: string;
  userId: string;
  /** Prices come from this rate card version for the whole project, even if a newer one is published. */
  rateCardVersion: number;
  /** The runner's tasks (priced), or null when the planner makes them from `prompt`. */
  tasks: ProjectTask[] | null;
  prompt: string | null;
  /** A paused project re-checks its balance this often even without a top-up signal. */
  recheckSeconds: number;
  /** Continue-as-new after this many tasks in one run (or when Temporal suggests it). */
  tasksPerRun: number;
  carry?: ProjectCarry;
  /**
   * The project's budget (DESIGN.md §13): the most its planning and tasks may cost together.
   * Absent: no budget (and runs recorded before budgets, which replay unchanged). A run that
   * continues as new passes on the budget as it stands, changes included.
   */
  maxCredits?: number;
  /**
   * What planning costs on the project's rate card version, so the budget is checked before
   * planning too. Absent when the runner gave the tasks (and on runs recorded before budgets).
   */
  planningCredits?: number;
}

export const cancelProjectSignal = defineSignal<[{ reason: string }]>('cancelProject');
export const projectProgressQuery = defineQuery<ProjectProgress>('projectProgress');

/** A new budget for a project: raise it, or lower it, never below what is already spent. */
export interface ProjectBudgetChange {
  maxCredits: number;
}

/** The budget as accepted, and the progress once the project has acted on it. */
export interface ProjectBudgetChanged {
  maxCredits: number;
  status: ProjectProgress['status'];
  creditsSpent: number;
  creditsReserved: number;
}

/**
 * Sets a project's budget: a human decision, so an Update (the caller hears at once whether it
 * was taken) rather than a signal. Its validator judges the new budget against the workflow's
 * own spend (planning, settled tasks and the reservation in flight), so a budget below what is
 * spent is refused with an ApplicationFailure of type PROJECT_BUDGET_REFUSED and one sent to a
 * project that is ending with PROJECT_ENDING; refused changes never reach the history. Raising
 * the budget of a project paused for it resumes the project; the answer comes once the project
 * has acted on it (resumed, or paused again with the new numbers).
 */
export const setProjectBudgetUpdate = defineUpdate<ProjectBudgetChanged, [ProjectBudgetChange]>(
  'setProjectBudget',
);
export const PROJECT_BUDGET_REFUSED = 'ProjectBudgetRefused';
export const PROJECT_ENDING = 'ProjectEnding';

// ── Withdrawals ──────────────────────────────────────────────────────────────────────────────

import type { WithdrawalStatus } from '../domain/credits';

export type { WithdrawalStatus } from '../domain/credits';

/** One withdrawal: its credits are held already (app/withdrawals.ts) when the run starts. */
export interface WithdrawalInput {
  withdrawalId: string;
  userId: string;
  credits: number;
  amountCents: number;
  currency: string;
  /** ISO time, fixed once by the API: undecided by then, the withdrawal expires and is released. */
  expiresAt: string;
}

/** The operator's decision; a rejection may say why (the user sees it). */
export interface WithdrawalDecision {
  decision: 'approve' | 'reject';
  reason?: string | undefined;
}

/** What the update answers once the decision is accepted (the payout follows in the workflow). */
export interface WithdrawalDecided {
  decision: WithdrawalDecision['decision'];
  status: WithdrawalStatus;
}

/** How a withdrawal run ends. */
export interface WithdrawalOutcome {
  status: Exclude<WithdrawalStatus, 'pending_approval'>;
  transferId: string | null;
  reason: string | null;
}

/**
 * The operator's decision. Its validator refuses a second decision and one after expiry with an
 * ApplicationFailure of this type, so nothing of a refused decision reaches the history.
 */
export const decideWithdrawalUpdate = defineUpdate<WithdrawalDecided, [WithdrawalDecision]>(
  'decideWithdrawal',
);
export const WITHDRAWAL_DECISION_REFUSED = 'WithdrawalDecisionRefused';
/** The longest rejection reason the validator accepts (the API says the same at its edge). */
export const WITHDRAWAL_REASON_MAX = 500;

// ── Operator refunds and disputes ────────────────────────────────────────────────────────────

import type { OperatorRefundStatus } from '../domain/purchases';

/** One operator refund: its credits are held already (app/refunds.ts) when the run starts. */
export interface OperatorRefundInput {
  refundId: string;
  purchaseId: string;
  userId: string;
  credits: number;
  amountCents: number;
  currency: string;
}

/** How an operator refund run ends; `reason` is Stripe's (or ours) when it failed. */
export interface OperatorRefundOutcome {
  status: Exclude<OperatorRefundStatus, 'pending'>;
  stripeRefundId: string | null;
  reason: string | null;
}

/** One dispute of a credited payment, as its first event (created or closed) describes it. */
export interface DisputeInput {
  disputeId: string;
  purchaseId: string;
  userId: string;
  paymentIntentId: string;
  amountCents: number;
  currency: string;
  reason: string | null;
  /** How often to ask Stripe when no charge.dispute.closed has arrived (a lost webhook heals). */
  pollIntervalSeconds: number;
  /** When the hold would outlive the ledger's longest hold, its credits move to system:disputes. */
  escrowAfterSeconds: number;
}

/** A dispute event: Stripe's status, and the outcome it means once the dispute is closed. */
export interface DisputeChanged {
  stripeStatus: string;
  outcome: 'won' | 'lost' | null;
}

export interface DisputeOutcome {
  outcome: 'won' | 'lost';
  creditsDue: number;
  creditsHeld: number;
}

/** Every charge.dispute.* event of one dispute, delivered with signal-with-start. */
export const disputeChangedSignal = defineSignal<[DisputeChanged]>('disputeChanged');

// ── Auto top-up ──────────────────────────────────────────────────────────────────────────────

/** One user's auto top-up run: it ends when idle; the next crossing starts a new one. */
export interface AutoTopUpInput {
  userId: string;
  /** How often to ask Stripe about a payment still processing (no webhook needed). */
  pollIntervalSeconds: number;
  /** How long an idle run waits for another crossing before it ends. */
  idleSeconds: number;
  /** A crossing that arrived as the previous run continued as new. */
  pending?: ThresholdCrossed;
}

/**
 * The available credits minus what the user's running projects still need for their next task
 * fell below the auto top-up threshold with this debit (app/auto-top-up.ts). `crossingKey` is
 * the debit's idempotency key: the top-up's purchase and PaymentIntent are keyed by it.
 */
export interface ThresholdCrossed {
  crossingKey: string;
  belowCredits: number;
  /** Available credits minus what running projects still need, right after the debit. */
  headroom: number;
}

export type AutoTopUpResult =
  | { outcome: 'credited'; purchaseId: string; paymentIntentId: string }
  | {
      outcome: 'failed';
      purchaseId: string;
      paymentIntentId: string | null;
      reason: string;
      suspended: boolean;
    }
  | { outcome: 'skipped'; reason: string };

export interface AutoTopUpProgress {
  /** The crossing being topped up, its purchase once opened, and its payment once created. */
  inFlight: { crossingKey: string; purchaseId: string | null; paymentIntentId: string | null } | null;
  /** Crossings that arrived while one was in flight: the one top-up covers them. */
  coalesced: number;
  results: AutoTopUpResult[];
}

/** Signal-with-start (workflows/starters.ts signalAutoTopUp) delivers each crossing. */
export const thresholdCrossedSignal = defineSignal<[ThresholdCrossed]>('thresholdCrossed');
export const autoTopUpProgressQuery = defineQuery<AutoTopUpProgress>('autoTopUpProgress');

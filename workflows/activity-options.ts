/**
 * Named activity-option presets: every proxy in workflows/ takes one of these, so a step's
 * timeouts and retries are chosen by what it touches, in one place. Workflow code (deterministic):
 * imports nothing with I/O.
 */
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_ERRORS } from '../domain/errors';

/**
 * Database and ledger steps: short, idempotent (keyed by business ids), retried until they
 * succeed, because a lost write would strand money; domain errors are answers, not faults.
 */
export const ledgerActivity = {
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    maximumInterval: '10 seconds',
    nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
  },
} satisfies ActivityOptions;

/**
 * The same steps as local activities, for the project's hot path: no round trip through the
 * Temporal server to schedule each one (most of a task's overhead); results still land in history.
 */
export const localLedgerActivity = {
  startToCloseTimeout: '15 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    maximumInterval: '10 seconds',
    nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
  },
} satisfies LocalActivityOptions;

/**
 * Stripe calls: retried with backoff for a long time (Stripe outages heal, and every call carries
 * an idempotency key); a request Stripe refuses as invalid will be refused again, so it is not retried.
 */
export const stripeActivity = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERRORS, 'StripeInvalidRequestError'],
  },
} satisfies ActivityOptions;

/**
 * A Stripe call as a local activity, for auto top-up's hot path (the off-session charge): the
 * same retries as stripeActivity; a retry carries the same idempotency key, so it never charges twice.
 */
export const localStripeActivity = {
  startToCloseTimeout: '30 seconds',
  retry: stripeActivity.retry,
} satisfies LocalActivityOptions;

/** Receipts and notices: the mailer dedupes by key, so retries are safe; SMTP may be slow. */
export const mailActivity = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
  },
} satisfies ActivityOptions;

/** The planner may be a slow AI call: its own timeout and a few tries, then the project fails. */
export const plannerActivity = {
  startToCloseTimeout: '5 minutes',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
  },
} satisfies ActivityOptions;

/**
 * The executor: heartbeats, so a dead worker (or a dead agent runtime, README "Agent runtime") is
 * noticed in seconds, and cancellation reaches the task through them (the workflow waits for the
 * task to stop before voiding its hold); a few retries, then the task fails; a task the executor
 * rejects for good is not retried. An attempt may run for hours (an agent runtime completes it
 * asynchronously): 3 attempts of 6 hours stay inside the task's 24-hour reservation
 * (app/project-tasks.ts HOLD_SECONDS). Timeouts are not part of replay's command check, so runs
 * recorded with the earlier 30 minutes replay unchanged (test/workflows/replay-histories.test.ts).
 */
export const executorActivity = {
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '5 seconds',
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    maximumAttempts: 3,
    nonRetryableErrorTypes: ['TaskFailed'],
  },
} satisfies ActivityOptions;

/**
 * The hold sweeper: one statement over the whole ledger, so a longer timeout; a failed sweep is
 * retried (the next timer would sweep anyway, but a run that keeps failing should show in the UI).
 */
export const sweeperActivity = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
} satisfies ActivityOptions;

import { randomUUID } from 'node:crypto';
import { type Client, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import { z } from 'zod';
import { uuidFromSeed } from '../db/ids';
import type { Ledger } from '../db/ledger';
import { findPayoutAccount } from '../db/payout-accounts';
import type { Sql } from '../db/pool';
import type { User } from '../db/users';
import {
  closeWithdrawal,
  findWithdrawal,
  insertWithdrawal,
  recordTransfer,
  type Withdrawal,
  type WithdrawalOutcomeStatus,
} from '../db/withdrawals';
import {
  Conflict,
  HoldNotPending,
  IdempotencyConflict,
  MAX_CREDITS_PER_OPERATION,
  NotFound,
  PayoutAccountRequired,
  ValidationError,
} from '../domain';
import {
  decideWithdrawalUpdate,
  WITHDRAWAL_DECISION_REFUSED,
  type WithdrawalDecision,
  workflowIds,
} from '../workflows/messages';
import { startWithdrawal } from '../workflows/starters';
import type { BalanceEvents } from './balance-events';
import type { EarningSettings } from './earning-settings';
import { refreshPayoutAccount } from './payout-accounts';

export type { Withdrawal } from '../db/withdrawals';

/*
 * Withdrawals (DESIGN.md §11): earned, cleared credits cashed out to the creator's Stripe Connect
 * account. The money is one ledger hold on the earned bucket, taken here, at the request, so the
 * answer can be the ledger's own verdict (402 with what is withdrawable) and a refused request
 * leaves nothing behind: no row, no workflow. One withdrawalWorkflow per withdrawal then waits for
 * the operator and either pays (a Stripe transfer, then the hold posted to system:withdrawals)
 * or releases the hold (rejected, failed, expired). The functions at the bottom are its steps.
 */

/**
 * How much longer than the decision window the hold lives. The workflow releases an undecided
 * withdrawal at its deadline itself; the hold's own expiry only backs that up, and must leave
 * time for a payout approved at the last minute (Stripe calls are retried through outages)
 * to post the hold before it lapses.
 */
const HOLD_GRACE_SECONDS = 7 * 24 * 3600;
/** The ledger's longest hold (db/ledger/holds.ts). */
const MAX_HOLD_SECONDS = 30 * 24 * 3600;
/** How long an operator's approve/reject waits for the outcome before answering with what is known. */
const DECISION_SETTLE_MS = 3000;

export interface WithdrawalDeps {
  sql: Sql;
  ledger: Ledger;
  stripe: Stripe;
  temporal: Client;
  taskQueue: string;
  earning: EarningSettings;
}

/** A retried request with the same idempotency key names the same withdrawal (hence hold and workflow). */
function withdrawalId(userId: string, key: string | undefined): string {
  return key ? uuidFromSeed(`withdrawal:${userId}:${key}`) : randomUUID();
}

/**
 * Asks to cash out `credits` earned credits. Refused, with nothing changed: below the minimum
 * (ValidationError), without a payout account that Stripe lets receive payouts
 * (PayoutAccountRequired), above what is withdrawable (the ledger's InsufficientWithdrawable,
 * decided under the account's lock, so parallel requests never together hold more). Otherwise
 * the credits are held, the row written and the workflow started; the same key again returns
 * the same withdrawal (`created: false`).
 */
export async function requestWithdrawal(
  deps: WithdrawalDeps,
  request: { user: Pick<User, 'id'>; credits: number; key: string | undefined },
): Promise<{ created: boolean; withdrawal: Withdrawal }> {
  const { user, credits } = request;
  const settings = deps.earning.withdrawals;
  if (!Number.isSafeInteger(credits) || credits > MAX_CREDITS_PER_OPERATION)
    throw new ValidationError('credits', 'must be a whole number of credits');
  if (credits < settings.minimumCredits)
    throw new ValidationError(
      'credits',
      `must be at least ${settings.minimumCredits} (the smallest withdrawal)`,
    );
  const id = withdrawalId(user.id, request.key);
  const existing = await findWithdrawal(deps.sql, id);
  if (existing) {
    if (existing.userId !== user.id || existing.credits !== credits)
      throw new IdempotencyConflict(request.key ?? id);
    // A retry after a crash between the row and the start: start it now (a no-op when it runs).
    if (existing.status === 'pending_approval') await startWorkflow(deps, existing);
    return { created: false, withdrawal: existing };
  }

  const amountCents = credits * settings.creditValueCents;
  if (!Number.isSafeInteger(amountCents))
    throw new ValidationError('credits', 'is more than one withdrawal can pay out');
  const account = await payoutAccountReady(deps, user.id);
  const expiresAt = new Date(Date.now() + settings.decisionSeconds * 1000).toISOString();
  // If the process dies after this hold and before the start below, the same key finishes the
  // job; without a key, the hold lapses on its own after the decision window and the grace.
  await deps.ledger.hold({
    idempotencyKey: `withdrawal:${id}`,
    holdId: id,
    userId: user.id,
    amount: credits,
    kind: 'withdrawal',
    to: 'withdrawals',
    bucket: 'earned',
    withdrawableOnly: true,
    expiresInSeconds: Math.min(settings.decisionSeconds + HOLD_GRACE_SECONDS, MAX_HOLD_SECONDS),
    description: 'withdrawal to Stripe',
    cause: { type: 'withdrawal', id },
  });
  const { created, withdrawal } = await insertWithdrawal(deps.sql, {
    id,
    userId: user.id,
    credits,
    amountCents,
    currency: settings.currency,
    holdId: id,
    destination: account,
    expiresAt,
  });
  await startWorkflow(deps, withdrawal);
  return { created, withdrawal };
}

/** The Stripe account to pay, once Stripe says it can receive payouts (asked again if we think not). */
async function payoutAccountReady(deps: WithdrawalDeps, userId: string): Promise<string> {
  let account = await findPayoutAccount(deps.sql, userId);
  // A lost or late account.updated must not keep an onboarded creator from withdrawing.
  if (account && !account.payoutsEnabled)
    account = (await refreshPayoutAccount(deps, account.stripeAccountId)) ?? account;
  if (!account?.payoutsEnabled)
    throw new PayoutAccountRequired(
      'a withdrawal is paid to a Stripe account: create one with POST /v1/payout-account and finish its onboarding',
    );
  return account.stripeAccountId;
}

function startWorkflow(deps: Pick<WithdrawalDeps, 'temporal' | 'taskQueue'>, w: Withdrawal) {
  return startWithdrawal(deps.temporal, deps.taskQueue, {
    withdrawalId: w.id,
    userId: w.userId,
    credits: w.credits,
    amountCents: w.amountCents,
    currency: w.currency,
    expiresAt: w.expiresAt,
  });
}

/** The user's own withdrawal; someone else's is "not found": ids must not leak. */
export async function ownWithdrawal(deps: { sql: Sql }, userId: string, id: string): Promise<Withdrawal> {
  const withdrawal = await findWithdrawal(deps.sql, id);
  if (!withdrawal || withdrawal.userId !== userId) throw new NotFound(`withdrawal ${id} not found`);
  return withdrawal;
}

/**
 * The operator's decision, through the workflow's update: its validator is the one judge of
 * whether a decision may still be taken (a second one, or one after expiry, is a Conflict), so
 * two operators racing get one outcome. Answers the withdrawal once the payout or release has
 * happened, or as it stands after a few seconds (a Stripe outage must not hold the request).
 */
export async function decideWithdrawal(
  deps: { sql: Sql; temporal: Client; taskQueue: string },
  request: { id: string; decision: WithdrawalDecision },
): Promise<{ withdrawal: Withdrawal; decision: WithdrawalDecision['decision'] }> {
  const before = await findWithdrawal(deps.sql, request.id);
  if (!before) throw new NotFound(`withdrawal ${request.id} not found`);
  if (before.status !== 'pending_approval') throw alreadyDecided(before);
  const handle = deps.temporal.workflow.getHandle(workflowIds.withdrawal(request.id));
  try {
    await handle.executeUpdate(decideWithdrawalUpdate, { args: [request.decision] });
  } catch (error) {
    // Pending with no run at all: the request died between the row and the start (its client
    // never retried). Start it now, as the retry would have, and decide.
    if (error instanceof WorkflowNotFoundError && (await startedNever(deps, before))) {
      await startWorkflow(deps, before);
      return decideWithdrawal(deps, request);
    }
    if (error instanceof WorkflowUpdateFailedError) {
      const cause = error.cause;
      if (cause instanceof ApplicationFailure && cause.type === WITHDRAWAL_DECISION_REFUSED)
        throw new Conflict(cause.message);
    }
    // The run has ended (expired, or decided by someone else): the row says how.
    if (error instanceof WorkflowNotFoundError) {
      const now = await findWithdrawal(deps.sql, request.id);
      throw alreadyDecided(now ?? before);
    }
    throw error;
  }
  return { withdrawal: await settled(deps.sql, request.id), decision: request.decision.decision };
}

/** True when no run of the withdrawal's workflow was ever started (a closed run is not "never"). */
async function startedNever(deps: { temporal: Client }, w: Withdrawal): Promise<boolean> {
  try {
    await deps.temporal.workflow.getHandle(workflowIds.withdrawal(w.id)).describe();
    return false;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return true;
    throw error;
  }
}

function alreadyDecided(w: Withdrawal): Conflict {
  return new Conflict(
    w.status === 'pending_approval'
      ? `withdrawal ${w.id} cannot be decided now`
      : `withdrawal ${w.id} is already ${w.status}`,
  );
}

/** The row once it has left pending_approval, or as it is after DECISION_SETTLE_MS. */
async function settled(sql: Sql, id: string): Promise<Withdrawal> {
  const deadline = Date.now() + DECISION_SETTLE_MS;
  for (;;) {
    const withdrawal = (await findWithdrawal(sql, id))!;
    if (withdrawal.status !== 'pending_approval' || Date.now() >= deadline) return withdrawal;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ── The workflow's steps (activities/withdrawals.ts wraps each) ──────────────────────────────

/** The parts of a Stripe Transfer this system reads. */
const transferSchema = z
  .object({ id: z.string().min(1), amount: z.number().int(), currency: z.string() })
  .loose();

export type TransferOutcome = { ok: true; transferId: string } | { ok: false; reason: string };

/**
 * Stripe's refusals that will not change on a retry: a card error, or an invalid request (the
 * platform balance is short, the destination cannot take transfers). Anything else (network,
 * rate limit, Stripe's own errors) is thrown and retried by the activity.
 */
function finalRefusal(error: unknown): string | null {
  if (
    error instanceof Stripe.errors.StripeCardError ||
    error instanceof Stripe.errors.StripeInvalidRequestError
  )
    return `Stripe refused the transfer: ${error.message}`;
  return null;
}

/**
 * Pays the approved withdrawal to its Stripe account. Keyed by the withdrawal, so a retry (a
 * worker killed mid-call, a lost answer) returns the one transfer Stripe made and never makes a
 * second. A refusal is an outcome, not an error: the workflow releases the credits.
 */
export async function transferWithdrawal(
  deps: { sql: Sql; stripe: Stripe },
  input: { withdrawalId: string },
): Promise<TransferOutcome> {
  const w = await findWithdrawal(deps.sql, input.withdrawalId);
  if (!w) throw new NotFound(`withdrawal ${input.withdrawalId} not found`);
  if (w.stripeTransferId) return { ok: true, transferId: w.stripeTransferId };
  let transfer: z.infer<typeof transferSchema>;
  try {
    transfer = transferSchema.parse(
      await deps.stripe.transfers.create(
        {
          amount: w.amountCents,
          currency: w.currency,
          destination: w.destination,
          transfer_group: `withdrawal:${w.id}`,
          metadata: { withdrawalId: w.id, userId: w.userId, credits: String(w.credits) },
        },
        { idempotencyKey: `withdrawal:${w.id}` },
      ),
    );
  } catch (error) {
    const reason = finalRefusal(error);
    if (reason === null) throw error;
    return { ok: false, reason };
  }
  await recordTransfer(deps.sql, w.id, transfer.id);
  return { ok: true, transferId: transfer.id };
}

/** After the transfer: the held credits leave the user for system:withdrawals, once; the row says paid. */
export async function payWithdrawal(
  deps: { sql: Sql; ledger: Ledger },
  input: { withdrawalId: string; transferId: string },
): Promise<Withdrawal> {
  const w = await findWithdrawal(deps.sql, input.withdrawalId);
  if (!w) throw new NotFound(`withdrawal ${input.withdrawalId} not found`);
  await recordTransfer(deps.sql, w.id, input.transferId);
  // Keyed by the withdrawal: a retry after a crash replays the stored post instead of failing on
  // a hold that is no longer pending.
  await deps.ledger.postHold({
    idempotencyKey: `withdrawal-paid:${w.id}`,
    holdId: w.holdId,
    amount: w.credits,
  });
  return (await closeWithdrawal(deps.sql, w.id, { status: 'paid' }))!;
}

/**
 * Rejected, failed or expired: the held credits go back to the user (they are spendable again
 * and still withdrawable), the row says why, and the user's paused projects hear about it.
 */
export async function releaseWithdrawal(
  deps: { sql: Sql; ledger: Ledger; balanceEvents: BalanceEvents },
  input: {
    withdrawalId: string;
    status: Exclude<WithdrawalOutcomeStatus, 'paid'>;
    reason: string | null;
  },
): Promise<Withdrawal> {
  const w = await findWithdrawal(deps.sql, input.withdrawalId);
  if (!w) throw new NotFound(`withdrawal ${input.withdrawalId} not found`);
  try {
    await deps.ledger.voidHold({ idempotencyKey: `withdrawal-released:${w.id}`, holdId: w.holdId });
  } catch (error) {
    // The ledger's own expiry got there first: the credits are back all the same.
    if (!(error instanceof HoldNotPending && error.status === 'expired')) throw error;
  }
  const closed = (await closeWithdrawal(deps.sql, w.id, { status: input.status, reason: input.reason }))!;
  await deps.balanceEvents.credited({ userId: w.userId, reason: 'hold_released' });
  return closed;
}

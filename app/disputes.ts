import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type Stripe from 'stripe';
import { z } from 'zod';
import {
  closeDisputeRow,
  type Dispute,
  findDispute,
  insertDispute,
  markDisputeEscrowed,
  markDisputeHeld,
  planDisputeHold,
} from '../db/disputes';
import { uuidFromSeed } from '../db/ids';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import { findPurchaseByPaymentIntent } from '../db/purchases';
import { HoldNotPending, InsufficientCredits, NotFound } from '../domain';
import type { DisputeChanged, DisputeInput } from '../workflows/messages';
import { signalDispute } from '../workflows/starters';
import type { BalanceEvents } from './balance-events';
import { clawBackReferralReward, releaseDisputedShortfall } from './referrals';

export type { Dispute } from '../db/disputes';

/*
 * Disputes of credited payments (DESIGN.md §12). A chargeback freezes the disputed credits as a
 * ledger hold on the purchased bucket (in proportion to the disputed amount, as many as the user
 * still has: the rest is recorded as the shortfall); lost, the hold is posted to system:disputes;
 * won, it is released. Each exactly once, whatever Stripe's webhooks do.
 *
 * Why a workflow (one per dispute, id from the dispute id) rather than use cases called from the
 * webhook: (1) the events of one dispute arrive duplicated and in any order, and a workflow is one
 * serial owner of the dispute: created and closed both signal-with-start it, so "closed before
 * created" simply starts it with the outcome already known, and it still opens (hold, clawback)
 * before it settles, ending exactly as the ordered case does; (2) a dispute lasts up to ~75 days,
 * longer than the ledger's longest hold (30 days): the workflow's timer moves the held credits
 * to system:disputes before the hold would lapse (a won dispute then credits them back), which
 * no webhook would be there to do; (3) a lost charge.dispute.closed must not leave credits frozen
 * for ever: the workflow asks Stripe for the dispute on a timer. The steps below are its
 * activities; each is idempotent on the dispute's row and keyed ledger operations.
 */

/** How often an open dispute asks Stripe whether it was closed (the webhook is the fast path). */
const DISPUTE_POLL_SECONDS = 6 * 3600;
/** The ledger's longest hold (db/ledger/holds.ts): a dispute's hold asks for all of it. */
const HOLD_SECONDS = 30 * 24 * 3600;
/** A day before the hold would lapse, its credits move to system:disputes instead. */
const ESCROW_AFTER_SECONDS = HOLD_SECONDS - 24 * 3600;
/** Plans lowered this often (credits spent while the hold is tried) before the step is retried whole. */
const HOLD_ATTEMPTS = 5;

const expandable = z.union([z.string(), z.object({ id: z.string() }).loose()]).nullish();
const idOf = (value: z.infer<typeof expandable>): string | null =>
  !value ? null : typeof value === 'string' ? value : value.id;

/** The parts of a Stripe Dispute this system reads (webhook object or API answer). */
const disputeSchema = z
  .object({
    id: z.string().min(1).max(255),
    amount: z.number().int().positive(),
    currency: z.string().min(1).max(10),
    charge: expandable,
    payment_intent: expandable,
    status: z.string().min(1),
    reason: z.string().max(200).nullish(),
  })
  .loose();

/**
 * Stripe's dispute status as an outcome: `won`, and `warning_closed` (an inquiry that closed
 * without becoming a chargeback: the money stays), release the credits; `lost` takes them.
 * Every other status (needs_response, under_review, warning_*) is still open.
 */
export function disputeOutcomeOf(status: string): 'won' | 'lost' | null {
  switch (status) {
    case 'won':
    case 'warning_closed':
      return 'won';
    case 'lost':
      return 'lost';
    default:
      return null;
  }
}

/**
 * A charge.dispute.* webhook: the dispute's workflow hears of it (and starts, if this is the
 * first event of the dispute). Disputes of payments that credited nothing are ignored; an event
 * for a dispute already closed changes nothing (the run is over and is never started again).
 */
export async function disputeChanged(
  deps: { sql: Sql; temporal: Client; taskQueue: string },
  object: unknown,
): Promise<string> {
  const parsed = disputeSchema.safeParse(object);
  if (!parsed.success) return 'ignored: not a dispute';
  const dispute = parsed.data;
  const paymentIntentId = idOf(dispute.payment_intent);
  if (!paymentIntentId) return 'ignored: no payment';
  const purchase = await findPurchaseByPaymentIntent(deps.sql, paymentIntentId);
  if (!purchase) return 'ignored: not a credited payment';
  const known = await findDispute(deps.sql, dispute.id);
  if (known && known.status !== 'open') return `ignored: dispute already ${known.status}`;
  const event: DisputeChanged = { stripeStatus: dispute.status, outcome: disputeOutcomeOf(dispute.status) };
  try {
    await signalDispute(
      deps.temporal,
      deps.taskQueue,
      {
        disputeId: dispute.id,
        purchaseId: purchase.id,
        userId: purchase.userId,
        paymentIntentId,
        amountCents: dispute.amount,
        currency: dispute.currency,
        reason: dispute.reason ?? null,
        pollIntervalSeconds: DISPUTE_POLL_SECONDS,
        escrowAfterSeconds: ESCROW_AFTER_SECONDS,
      },
      event,
    );
  } catch (error) {
    // The run has ended (REJECT_DUPLICATE): the dispute was settled; this is a late redelivery.
    if (error instanceof WorkflowExecutionAlreadyStartedError) return 'ignored: dispute already settled';
    throw error;
  }
  return event.outcome ? `dispute ${event.outcome}` : 'dispute opened';
}

// ── The workflow's steps (activities/disputes.ts wraps each) ─────────────────────────────────

export interface DisputeLedgerDeps {
  sql: Sql;
  ledger: Ledger;
  balanceEvents: BalanceEvents;
}

/**
 * The dispute opened: record it, hold its credits (as many of them as the user still has in the
 * purchased bucket; the plan is stored first, so a retry repeats the same hold), and take back
 * a referral reward the purchase earned (before it clears). Once.
 */
export async function openDispute(
  deps: DisputeLedgerDeps,
  input: Pick<
    DisputeInput,
    'disputeId' | 'purchaseId' | 'userId' | 'paymentIntentId' | 'amountCents' | 'currency' | 'reason'
  >,
): Promise<{ creditsDue: number; creditsHeld: number }> {
  let dispute = await insertDispute(deps.sql, {
    id: input.disputeId,
    purchaseId: input.purchaseId,
    userId: input.userId,
    paymentIntentId: input.paymentIntentId,
    amountCents: input.amountCents,
    currency: input.currency,
    reason: input.reason,
    holdId: uuidFromSeed(`dispute:${input.disputeId}`),
  });
  for (let attempt = 0; dispute.heldAt === null; attempt++) {
    if (attempt === HOLD_ATTEMPTS)
      throw new Error(`dispute ${dispute.id}: the hold kept losing its credits to spending; retry`);
    const plan =
      dispute.creditsHeld ??
      Math.min(dispute.creditsDue, (await deps.ledger.balance(dispute.userId)).byBucket.purchased.available);
    dispute = await planDisputeHold(deps.sql, dispute.id, plan);
    const planned = dispute.creditsHeld ?? 0;
    if (planned > 0) {
      try {
        await deps.ledger.hold({
          // The plan is part of the key: a lowered plan is another request, never a conflict.
          idempotencyKey: `dispute:${dispute.id}:${planned}`,
          holdId: dispute.holdId,
          userId: dispute.userId,
          amount: planned,
          kind: 'dispute',
          to: 'disputes',
          bucket: 'purchased',
          expiresInSeconds: HOLD_SECONDS,
          description: `dispute of purchase ${dispute.purchaseId}`,
          cause: { type: 'dispute', id: dispute.id },
        });
      } catch (error) {
        if (!(error instanceof InsufficientCredits)) throw error;
        // Spent meanwhile: nothing was held; plan what is there now and try again.
        dispute = await planDisputeHold(deps.sql, dispute.id, Math.min(planned, error.available));
        continue;
      }
    }
    await markDisputeHeld(deps.sql, dispute.id);
    dispute = (await findDispute(deps.sql, dispute.id))!;
  }
  await clawBackReferralReward(deps, { purchaseId: dispute.purchaseId, reason: 'disputed' });
  return { creditsDue: dispute.creditsDue, creditsHeld: dispute.creditsHeld ?? 0 };
}

async function heldDispute(sql: Sql, disputeId: string): Promise<Dispute> {
  const dispute = await findDispute(sql, disputeId);
  if (!dispute) throw new NotFound(`dispute ${disputeId} not found`);
  return dispute;
}

/**
 * Takes `credits` from the user to system:disputes as a debit, as many as they still have (the
 * key alone names it): for a hold that lapsed before it could be posted.
 */
async function takeUpTo(deps: DisputeLedgerDeps, d: Dispute, key: string, credits: number): Promise<number> {
  if (credits <= 0) return 0;
  const take = (amount: number) =>
    deps.ledger.debit({
      idempotencyKey: key,
      fingerprint: key,
      userId: d.userId,
      amount,
      to: 'disputes',
      kind: 'dispute',
      description: `dispute of purchase ${d.purchaseId}`,
      cause: { type: 'dispute', id: d.id },
    });
  try {
    return (await take(credits)).amount;
  } catch (error) {
    if (!(error instanceof InsufficientCredits)) throw error;
    return error.available > 0 ? (await take(error.available)).amount : 0;
  }
}

/** Posts the held credits to system:disputes; a hold that lapsed is taken as a debit instead. */
async function postHeld(deps: DisputeLedgerDeps, d: Dispute, key: string): Promise<number> {
  const held = d.creditsHeld ?? 0;
  if (held === 0) return 0;
  try {
    return (await deps.ledger.postHold({ idempotencyKey: key, holdId: d.holdId, amount: held })).posted;
  } catch (error) {
    if (!(error instanceof HoldNotPending && error.status === 'expired')) throw error;
  }
  return takeUpTo(deps, d, `${key}:late`, held);
}

/**
 * The dispute outlives the hold: its credits move to system:disputes now (still the user's if
 * the dispute is won: closeDispute credits them back). Once.
 */
export async function escrowDispute(deps: DisputeLedgerDeps, input: { disputeId: string }): Promise<void> {
  const d = await heldDispute(deps.sql, input.disputeId);
  if (d.status !== 'open' || d.escrowedAt !== null || d.heldAt === null) return;
  const moved = await postHeld(deps, d, `dispute-escrow:${d.id}`);
  await markDisputeEscrowed(deps.sql, d.id, moved);
}

/**
 * The dispute closed. Lost: the held credits leave for system:disputes (already there when
 * escrowed), and so do as many of the rest of its credits due as the user has now: credits that
 * came back after the hold was planned (an operator refund pending when the dispute opened, which
 * Stripe then refused because the charge was disputed, voids its hold) would otherwise stay
 * with a user whose bank already returned their money. Won: the held credits are released (or,
 * escrowed, credited back to the purchased bucket) and the user's paused projects hear about it.
 * Once: the row leaves `open` last, and every ledger step is keyed by the dispute.
 */
export async function closeDispute(
  deps: DisputeLedgerDeps,
  input: { disputeId: string; outcome: 'won' | 'lost' },
): Promise<Dispute> {
  const d = await heldDispute(deps.sql, input.disputeId);
  if (d.status !== 'open') return d;
  const held = d.creditsHeld ?? 0;
  if (input.outcome === 'lost') {
    // Escrowed: the credits are in system:disputes already.
    const taken = d.escrowedAt === null ? await postHeld(deps, d, `dispute-lost:${d.id}`) : held;
    const rest = await takeUpTo(deps, d, `dispute-lost-rest:${d.id}`, d.creditsDue - taken);
    return closeDisputeRow(deps.sql, d.id, 'lost', taken + rest);
  }
  if (d.escrowedAt !== null) {
    if (held > 0)
      await deps.ledger.credit({
        idempotencyKey: `dispute-won:${d.id}`,
        userId: d.userId,
        amount: held,
        from: 'disputes',
        bucket: 'purchased',
        kind: 'dispute_won',
        description: `dispute of purchase ${d.purchaseId} won`,
        cause: { type: 'dispute', id: d.id },
      });
  } else if (held > 0) {
    try {
      await deps.ledger.voidHold({ idempotencyKey: `dispute-won:${d.id}`, holdId: d.holdId });
    } catch (error) {
      // The hold lapsed first: the credits are back all the same.
      if (!(error instanceof HoldNotPending && error.status === 'expired')) throw error;
    }
  }
  await releaseDisputedShortfall(deps, d.purchaseId);
  const closed = await closeDisputeRow(deps.sql, d.id, 'won');
  if (held > 0) await deps.balanceEvents.credited({ userId: d.userId, reason: 'hold_released' });
  return closed;
}

/** Asks Stripe how the dispute stands (for a charge.dispute.closed that never came). */
export async function checkDispute(
  deps: { stripe: Stripe },
  input: { disputeId: string },
): Promise<DisputeChanged> {
  const dispute = disputeSchema.parse(await deps.stripe.disputes.retrieve(input.disputeId));
  return { stripeStatus: dispute.status, outcome: disputeOutcomeOf(dispute.status) };
}

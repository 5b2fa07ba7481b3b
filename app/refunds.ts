import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import Stripe from 'stripe';
import { z } from 'zod';
import { uuidFromSeed } from '../db/ids';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import { findPurchase, type Purchase } from '../db/purchases';
import {
  claimOperatorRefundStep as claimStep,
  failOperatorRefundRow,
  findHold,
  findOperatorRefund,
  insertOperatorRefund,
  type OperatorRefund,
  purchaseLeft,
  recordStripeRefund,
  settleOperatorRefund,
} from '../db/refunds';
import { findUserById } from '../db/users';
import {
  Conflict,
  formatCredits,
  formatMoney,
  HoldNotPending,
  IdempotencyConflict,
  InsufficientCredits,
  MAX_CREDITS_PER_OPERATION,
  NotFound,
  ValidationError,
} from '../domain';
import { type OperatorRefundReason, refundCentsForCredits } from '../domain/purchases';
import type { Mailer } from '../mail/mailer';
import { startOperatorRefund } from '../workflows/starters';
import type { BalanceEvents } from './balance-events';
import { clawBackReferralReward } from './referrals';

export type { OperatorRefund } from '../db/refunds';

/*
 * Operator refunds (DESIGN.md §12): an operator gives back a purchase's unused credits, and the
 * money in proportion, through a Stripe partial refund. The credits are one ledger hold on the
 * user's purchased bucket, taken here, at the request, so the answer to "more than is unused" is
 * the ledger's own verdict (under the account's lock) and a refused request leaves nothing
 * behind: no row, no workflow. One operatorRefundWorkflow per refund then claims the refund's
 * step of the payment, asks Stripe, and posts the hold (succeeded) or voids it (failed). The
 * functions below the request are its steps.
 */

/**
 * How long the hold lives. The workflow posts or voids it within seconds; the expiry only
 * releases the credits of a request whose process died between the hold and the start. A refund
 * Stripe makes after it lapsed still takes the credits back (completeOperatorRefund).
 */
const HOLD_SECONDS = 24 * 3600;
/** How long the request waits for Stripe's answer before answering with the refund as it stands. */
const SETTLE_MS = 3000;

export interface RefundRequestDeps {
  sql: Sql;
  ledger: Ledger;
  temporal: Client;
  taskQueue: string;
}

export interface RefundRequest {
  purchaseId: string;
  /** Absent: everything that is refundable. */
  credits?: number | undefined;
  reason: OperatorRefundReason;
  key: string | undefined;
}

/** A retried request with the same Idempotency-Key names the same refund (hence hold and workflow). */
function refundId(key: string | undefined): string {
  return key ? uuidFromSeed(`operator-refund:${key}`) : randomUUID();
}

/**
 * What of the purchase can be refunded now: its credits not yet called back by a refund or a
 * dispute, and of those only as many as the user still has unspent and unheld in the purchased
 * bucket (spent credits cannot be refunded: DESIGN.md §10).
 */
export async function refundableCredits(
  deps: Pick<RefundRequestDeps, 'sql' | 'ledger'>,
  purchase: Pick<Purchase, 'id' | 'userId'>,
): Promise<number> {
  const [left, balance] = await Promise.all([
    purchaseLeft(deps.sql, purchase.id),
    deps.ledger.balance(purchase.userId),
  ]);
  return Math.max(0, Math.min(left.credits, balance.byBucket.purchased.available));
}

function notRefundable(refundable: number): Conflict {
  return new Conflict(
    `credits: at most ${formatCredits(refundable)} credits of this purchase are refundable` +
      ' (its credits still unused in the purchased bucket, less earlier refunds)',
  );
}

/**
 * Refunds `credits` (or all that is refundable) of a paid purchase. Refused with nothing changed:
 * a purchase that was not paid, or is fully refunded (Conflict); more than is refundable (409
 * naming how much is); credits worth less than one minor unit (ValidationError). Otherwise the
 * credits are held, the row written and the workflow started; the answer waits a moment for
 * Stripe, so the operator usually sees `succeeded` or `failed` at once. The same key again
 * returns the same refund (`created: false`); with another purchase, amount or reason it is an
 * IdempotencyConflict.
 */
export async function requestOperatorRefund(
  deps: RefundRequestDeps,
  request: RefundRequest,
): Promise<{ created: boolean; refund: OperatorRefund }> {
  if (
    request.credits !== undefined &&
    (!Number.isSafeInteger(request.credits) ||
      request.credits < 1 ||
      request.credits > MAX_CREDITS_PER_OPERATION)
  )
    throw new ValidationError('credits', 'must be a positive whole number of credits');
  const id = refundId(request.key);
  const existing = await findOperatorRefund(deps.sql, id);
  if (existing) return { created: false, refund: await replayed(deps, existing, request) };

  const purchase = await findPurchase(deps.sql, request.purchaseId);
  if (!purchase) throw new NotFound(`purchaseId: no purchase ${request.purchaseId}`);
  if (
    !purchase.paymentIntentId ||
    (purchase.status !== 'completed' && purchase.status !== 'partially_refunded')
  )
    throw new Conflict(
      `purchase ${purchase.id} is ${purchase.status}: only a paid purchase with credits left can be refunded`,
    );
  // A request retried after its process died between the hold and the row finds its own hold:
  // its credits are not "unused" any more, but they are this refund's. A hold of this key that
  // is no longer pending belonged to a request that was refused (or never finished): the ledger
  // would replay that hold, not take a new one, so the key cannot be used again.
  const hold = await findHold(deps.sql, id);
  if (hold && hold.status !== 'pending')
    throw new Conflict(
      'Idempotency-Key: an earlier request with this key was refused or abandoned; send a new key',
    );
  const ownHold = hold;
  const refundable = (await refundableCredits(deps, purchase)) + (ownHold?.amount ?? 0);
  const credits = request.credits ?? ownHold?.amount ?? refundable;
  if (credits < 1 || credits > refundable) throw notRefundable(refundable);
  const amountCents = await refundAmount(deps.sql, purchase, credits);
  if (amountCents < 1)
    throw new ValidationError(
      'credits',
      `${formatCredits(credits)} credits are worth less than the smallest amount of ${purchase.currency.toUpperCase()}: refund more`,
    );

  try {
    await deps.ledger.hold({
      idempotencyKey: `operator-refund:${id}`,
      holdId: id,
      userId: purchase.userId,
      amount: credits,
      kind: 'operator_refund',
      to: 'refunds',
      bucket: 'purchased',
      expiresInSeconds: HOLD_SECONDS,
      description: `refund of purchase ${purchase.id}`,
      cause: { type: 'refund', id },
    });
  } catch (error) {
    // Spent or held meanwhile (another operator's refund of the same credits): the ledger's verdict.
    if (error instanceof InsufficientCredits) throw notRefundable(await refundableCredits(deps, purchase));
    throw error;
  }
  const inserted = await insertOperatorRefund(deps.sql, {
    id,
    purchaseId: purchase.id,
    userId: purchase.userId,
    credits,
    amountCents,
    currency: purchase.currency,
    reason: request.reason,
    holdId: id,
  });
  if (!inserted.ok) {
    // Another refund (or a dispute) of this purchase took its credits first: nothing of this one stays.
    await deps.ledger.voidHold({ idempotencyKey: `operator-refund-refused:${id}`, holdId: id });
    throw notRefundable(Math.min(inserted.creditsLeft, await refundableCredits(deps, purchase)));
  }
  await startWorkflow(deps, inserted.refund);
  return { created: inserted.created, refund: await settled(deps.sql, id) };
}

/**
 * The money for `credits` of the purchase: floor(credits × price / package credits), never more
 * than what of the payment is not refunded yet; and when these credits are all that is left of
 * the purchase, all the money that is left, so that parts rounded down before (a Dashboard
 * refund, an earlier operator refund) still add up to the whole price.
 */
async function refundAmount(sql: Sql, purchase: Purchase, credits: number): Promise<number> {
  const left = await purchaseLeft(sql, purchase.id);
  if (credits >= left.credits) return left.cents;
  return Math.min(refundCentsForCredits(credits, purchase.credits, purchase.priceCents), left.cents);
}

/** The same key again: the same request returns the refund; another is a conflict. */
async function replayed(
  deps: RefundRequestDeps,
  existing: OperatorRefund,
  request: RefundRequest,
): Promise<OperatorRefund> {
  if (
    existing.purchaseId !== request.purchaseId ||
    existing.reason !== request.reason ||
    (request.credits !== undefined && existing.credits !== request.credits)
  )
    throw new IdempotencyConflict(`refund ${existing.id}`);
  // A retry after a crash between the row and the start: start it now (a no-op when it runs).
  if (existing.status === 'pending') await startWorkflow(deps, existing);
  return existing;
}

function startWorkflow(deps: Pick<RefundRequestDeps, 'temporal' | 'taskQueue'>, r: OperatorRefund) {
  return startOperatorRefund(deps.temporal, deps.taskQueue, {
    refundId: r.id,
    purchaseId: r.purchaseId,
    userId: r.userId,
    credits: r.credits,
    amountCents: r.amountCents,
    currency: r.currency,
  });
}

/** The row once Stripe has answered, or as it is after SETTLE_MS (a Stripe outage must not hold the request). */
async function settled(sql: Sql, id: string): Promise<OperatorRefund> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const refund = (await findOperatorRefund(sql, id))!;
    if (refund.status !== 'pending' || Date.now() >= deadline) return refund;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One refund, for the operator. */
export async function operatorRefund(deps: { sql: Sql }, id: string): Promise<OperatorRefund> {
  const refund = await findOperatorRefund(deps.sql, id);
  if (!refund) throw new NotFound(`refund ${id} not found`);
  return refund;
}

// ── The workflow's steps (activities/refunds.ts wraps each) ──────────────────────────────────

export type RefundStepOutcome = { ok: true } | { ok: false; reason: string };

/**
 * Claims the refund's step of its payment before Stripe is asked (db/refunds.ts): from then on
 * Stripe's charge.refunded for this refund names a total already accounted for, and the
 * Dashboard path takes nothing for it. Waits (RefundInFlight, retried) while another operator
 * refund of the same payment is in Stripe's hands.
 */
export async function claimOperatorRefundStep(
  deps: { sql: Sql },
  input: { refundId: string },
): Promise<RefundStepOutcome> {
  const claimed = await claimStep(deps.sql, input.refundId);
  return claimed.ok ? { ok: true } : claimed;
}

/** The parts of a Stripe Refund this system reads. */
const refundSchema = z.object({ id: z.string().min(1), amount: z.number().int() }).loose();

export type StripeRefundOutcome = { ok: true; stripeRefundId: string } | { ok: false; reason: string };

/**
 * Stripe's refusals that a retry will not change: a card error, or an invalid request (the
 * charge is disputed or already refunded, the platform balance is short). Anything else
 * (network, rate limit, Stripe's own errors) is thrown and retried by the activity.
 */
function finalRefusal(error: unknown): string | null {
  if (
    error instanceof Stripe.errors.StripeCardError ||
    error instanceof Stripe.errors.StripeInvalidRequestError
  )
    return `Stripe refused the refund: ${error.message}`;
  return null;
}

/**
 * The partial refund in Stripe, keyed by the refund: a retry (a worker killed mid-call, a lost
 * answer) returns the one refund Stripe made and never makes a second. The metadata names the
 * refund, so a reader of Stripe's Dashboard sees where it came from. A refusal is an outcome.
 */
export async function refundInStripe(
  deps: { sql: Sql; stripe: Stripe },
  input: { refundId: string },
): Promise<StripeRefundOutcome> {
  const r = await findOperatorRefund(deps.sql, input.refundId);
  if (!r) throw new NotFound(`refund ${input.refundId} not found`);
  if (r.stripeRefundId) return { ok: true, stripeRefundId: r.stripeRefundId };
  const purchase = await findPurchase(deps.sql, r.purchaseId);
  if (!purchase?.paymentIntentId) throw new NotFound(`the payment of purchase ${r.purchaseId} not found`);
  let refund: z.infer<typeof refundSchema>;
  try {
    refund = refundSchema.parse(
      await deps.stripe.refunds.create(
        {
          payment_intent: purchase.paymentIntentId,
          amount: r.amountCents,
          ...(r.reason === 'duplicate' ? { reason: 'duplicate' as const } : {}),
          metadata: { refundId: r.id, purchaseId: r.purchaseId, credits: String(r.credits) },
        },
        { idempotencyKey: `operator-refund:${r.id}` },
      ),
    );
  } catch (error) {
    const reason = finalRefusal(error);
    if (reason === null) throw error;
    return { ok: false, reason };
  }
  await recordStripeRefund(deps.sql, r.id, refund.id);
  return { ok: true, stripeRefundId: refund.id };
}

export interface RefundSettleDeps {
  sql: Sql;
  ledger: Ledger;
  balanceEvents: BalanceEvents;
}

/**
 * Stripe refunded: the held credits leave the user for system:refunds (the user's history shows
 * the refund), once; the step is settled, the purchase partially_refunded or refunded; a referral
 * reward the purchase earned is taken back (it acts only before the reward clears).
 */
export async function completeOperatorRefund(
  deps: RefundSettleDeps,
  input: { refundId: string; stripeRefundId: string },
): Promise<OperatorRefund> {
  const r = await findOperatorRefund(deps.sql, input.refundId);
  if (!r) throw new NotFound(`refund ${input.refundId} not found`);
  const taken = await takeHeldCredits(deps, r);
  // Before the refund reads succeeded, so that "succeeded" means every consequence is done.
  await clawBackReferralReward(deps, { purchaseId: r.purchaseId, reason: 'refunded' });
  return settleOperatorRefund(deps.sql, { ...input, creditsTaken: taken });
}

/**
 * Posts the hold, keyed by the refund, so a retry replays the post. Should the hold have lapsed
 * (Stripe unreachable for a day), the refund was made all the same: the credits are taken as a
 * debit, as many as the user still has (the key alone names it, as a refund step's take-back does).
 */
async function takeHeldCredits(deps: RefundSettleDeps, r: OperatorRefund): Promise<number> {
  try {
    const posted = await deps.ledger.postHold({
      idempotencyKey: `operator-refund-posted:${r.id}`,
      holdId: r.holdId,
      amount: r.credits,
    });
    return posted.posted;
  } catch (error) {
    if (!(error instanceof HoldNotPending && error.status === 'expired')) throw error;
  }
  const key = `operator-refund-late:${r.id}`;
  const take = (amount: number) =>
    deps.ledger.debit({
      idempotencyKey: key,
      fingerprint: key,
      userId: r.userId,
      amount,
      to: 'refunds',
      kind: 'operator_refund',
      description: `refund of purchase ${r.purchaseId}`,
      cause: { type: 'refund', id: r.id },
    });
  try {
    return (await take(r.credits)).amount;
  } catch (error) {
    if (!(error instanceof InsufficientCredits)) throw error;
    return error.available > 0 ? (await take(error.available)).amount : 0;
  }
}

/** Stripe refused: the held credits go back to the user, the step is withdrawn, the refund failed with why. */
export async function failOperatorRefund(
  deps: RefundSettleDeps,
  input: { refundId: string; reason: string },
): Promise<OperatorRefund> {
  const r = await findOperatorRefund(deps.sql, input.refundId);
  if (!r) throw new NotFound(`refund ${input.refundId} not found`);
  try {
    await deps.ledger.voidHold({ idempotencyKey: `operator-refund-released:${r.id}`, holdId: r.holdId });
  } catch (error) {
    // The ledger's own expiry got there first: the credits are back all the same.
    if (!(error instanceof HoldNotPending && error.status === 'expired')) throw error;
  }
  const failed = await failOperatorRefundRow(deps.sql, input);
  await deps.balanceEvents.credited({ userId: r.userId, reason: 'hold_released' });
  return failed;
}

/** The refund's receipt, once per refund (the outbox dedupes by key); kind `receipt`, so GET /v1/receipts lists it. */
export async function sendRefundReceipt(
  deps: { sql: Sql; mailer: Mailer },
  input: { refundId: string },
): Promise<{ sent: boolean }> {
  const r = await findOperatorRefund(deps.sql, input.refundId);
  if (!r) throw new NotFound(`refund ${input.refundId} not found`);
  const user = await findUserById(deps.sql, r.userId);
  if (!user) throw new NotFound(`user ${r.userId} not found`);
  const amount = formatMoney(r.amountCents, r.currency);
  return deps.mailer.send({
    dedupeKey: `refund-receipt:${r.id}`,
    userId: user.id,
    kind: 'receipt',
    recipient: user.email,
    subject: `Refund: ${formatCredits(r.credits)} credits (${amount})`,
    body: [
      'We have refunded part of your purchase.',
      `Credits refunded: ${formatCredits(r.credits)}`,
      `Refunded: ${amount} to the card that paid (it may take 5–10 business days to appear)`,
      `Reason: ${r.reason.replaceAll('_', ' ')}`,
      `Purchase: ${r.purchaseId}`,
      `Refund: ${r.id}`,
      `Stripe refund: ${r.stripeRefundId ?? ''}`,
    ].join('\n'),
  });
}

import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import express, { Router } from 'express';
import type Stripe from 'stripe';
import {
  chargeSchema,
  checkoutSessionSchema,
  idOf,
  webhookEventSchema,
} from '../../activities/stripe-objects';
import { disputeChanged } from '../../app/disputes';
import { payoutAccountUpdated } from '../../app/payout-accounts';
import type { Sql } from '../../db/pool';
import {
  findPurchase,
  findPurchaseByPaymentIntent,
  refundedThroughCents,
  storeStripeEvent,
} from '../../db/purchases';
import { ValidationError } from '../../domain';
import {
  paymentFailedSignal,
  paymentSucceededSignal,
  sessionExpiredSignal,
  workflowIds,
} from '../../workflows/messages';
import { startDuplicateCharge, startPurchaseRefunded } from '../../workflows/starters';

/** Stripe's default tolerance: a signature older than 5 minutes is a replay. */
const SIGNATURE_TOLERANCE_SECONDS = 300;

type Deps = { sql: Sql; temporal: Client; taskQueue: string; stripe: Stripe; stripeWebhookSecret: string };
type Event = ReturnType<typeof webhookEventSchema.parse>;

/**
 * Stripe webhooks: verify the signature on the raw body, store the event id once, turn the
 * event into a signal (or a small workflow), answer 2xx. Every path is idempotent, so
 * redeliveries, duplicates and out-of-order events change nothing.
 */
export function webhooksRouter(deps: Deps): Router {
  const router = Router();
  router.post('/v1/webhooks/stripe', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    const signature = req.header('stripe-signature');
    if (!signature) throw new ValidationError('Stripe-Signature', 'header is missing');
    let verified: unknown;
    try {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      verified = deps.stripe.webhooks.constructEvent(
        raw,
        signature,
        deps.stripeWebhookSecret,
        SIGNATURE_TOLERANCE_SECONDS,
      );
    } catch {
      throw new ValidationError('Stripe-Signature', 'does not match the body (bad signature or too old)');
    }
    verified = storable(verified);
    const parsed = webhookEventSchema.safeParse(verified);
    if (!parsed.success) throw new ValidationError('body', 'is not a Stripe event');
    const event = parsed.data;
    const fresh = await storeStripeEvent(deps.sql, { id: event.id, type: event.type, payload: verified });
    // Routed even when not fresh: a crash after storing must not lose the signal; routing is idempotent.
    const handled = await route(deps, event);
    res.status(200).json({ received: true, duplicate: !fresh, handled });
  });
  return router;
}

async function route(deps: Deps, event: Event): Promise<string> {
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
      return sessionPaid(deps, event);
    case 'checkout.session.async_payment_failed':
      return signalPurchase(deps, event, (h) => h.signal(paymentFailedSignal, { reason: 'payment failed' }));
    case 'checkout.session.expired':
      return signalPurchase(deps, event, (h, sessionId) => h.signal(sessionExpiredSignal, { sessionId }));
    case 'charge.refunded':
      return chargeRefunded(deps, event);
    // A chargeback: the dispute's workflow holds the disputed credits, then posts or releases them.
    case 'charge.dispute.created':
    case 'charge.dispute.updated':
    case 'charge.dispute.closed':
      return disputeChanged(deps, event.data.object);
    // A creator's Connect account changed (onboarding finished, payouts paused): re-read it.
    case 'account.updated':
      return payoutAccountUpdated(deps, event.data.object);
    default:
      return 'ignored';
  }
}

/** A lone surrogate (with the u flag, \p{Cs} matches only unpaired ones). */
const LONE_SURROGATE = /\p{Cs}/gu;

/**
 * The event with every NUL and lone surrogate (in keys and values) replaced by U+FFFD. A signed
 * event is Stripe's, not a client's mistake: it must be stored and routed (a refused one would
 * be redelivered for days), but text a buyer typed into Checkout could carry them, and
 * Postgres refuses them. Deterministic, so a redelivery stores and deduplicates the same way.
 */
function storable(value: unknown): unknown {
  if (typeof value === 'string')
    return value.replaceAll('\u0000', '\ufffd').replace(LONE_SURROGATE, '\ufffd');
  if (Array.isArray(value)) return value.map(storable);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [storable(key), storable(inner)]));
  }
  return value;
}

type Handle = ReturnType<Client['workflow']['getHandle']>;

/** What a signal to a purchase workflow that has closed answers. */
const SETTLED = 'ignored: purchase already settled';

async function signalPurchase(
  deps: Deps,
  event: Event,
  send: (handle: Handle, sessionId: string) => Promise<void>,
): Promise<string> {
  const parsed = checkoutSessionSchema.safeParse(event.data.object);
  if (!parsed.success) return 'ignored: not a checkout session';
  const session = parsed.data;
  const purchaseId = session.metadata?.purchaseId;
  if (!purchaseId) return 'ignored: no purchaseId';
  try {
    await send(deps.temporal.workflow.getHandle(workflowIds.purchase(purchaseId)), session.id);
    return 'signalled';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return SETTLED;
    throw error;
  }
}

async function sessionPaid(deps: Deps, event: Event): Promise<string> {
  const parsed = checkoutSessionSchema.safeParse(event.data.object);
  if (!parsed.success) return 'ignored: not a checkout session';
  const session = parsed.data;
  const paymentIntentId = idOf(session.payment_intent);
  const purchaseId = session.metadata?.purchaseId;
  if (session.payment_status !== 'paid' || !paymentIntentId || !purchaseId) return 'ignored: not paid';
  if (await refundIfDuplicate(deps, purchaseId, paymentIntentId)) return 'duplicate refunded';
  const outcome = await signalPurchase(deps, event, (h, sessionId) =>
    h.signal(paymentSucceededSignal, { sessionId, paymentIntentId, source: 'webhook' }),
  );
  // The workflow may have credited another payment and closed between the read above and the
  // signal (seen in npm run chaos): read again, or this charge would never be refunded.
  if (outcome === SETTLED && (await refundIfDuplicate(deps, purchaseId, paymentIntentId)))
    return 'duplicate refunded';
  return outcome;
}

/** When another payment credited the purchase, this one is a duplicate: refund it (once per payment). */
async function refundIfDuplicate(deps: Deps, purchaseId: string, paymentIntentId: string): Promise<boolean> {
  const purchase = await findPurchase(deps.sql, purchaseId);
  if (!purchase?.paymentIntentId || purchase.paymentIntentId === paymentIntentId) return false;
  await startDuplicateCharge(deps.temporal, deps.taskQueue, { purchaseId, paymentIntentId });
  return true;
}

async function chargeRefunded(deps: Deps, event: Event): Promise<string> {
  const parsed = chargeSchema.safeParse(event.data.object);
  if (!parsed.success) return 'ignored: not a charge';
  const charge = parsed.data;
  const paymentIntentId = idOf(charge.payment_intent);
  if (!paymentIntentId) return 'ignored: no payment';
  const purchase = await findPurchaseByPaymentIntent(deps.sql, paymentIntentId);
  if (!purchase) return 'ignored: not a credited payment';
  // amount_refunded is cumulative: a redelivered or out-of-order event names a total already
  // accounted for. Each larger total is a new refund (DESIGN.md §12), taken back in proportion.
  if (charge.amount_refunded <= (await refundedThroughCents(deps.sql, paymentIntentId)))
    return 'ignored: refund already recorded';
  await startPurchaseRefunded(deps.temporal, deps.taskQueue, {
    purchaseId: purchase.id,
    paymentIntentId,
    refundedThroughCents: charge.amount_refunded,
  });
  return 'credits reversed';
}

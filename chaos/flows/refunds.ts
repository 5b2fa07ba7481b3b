import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { z } from 'zod';
import { createStripeClient } from '../../config/stripe';
import type { Sql } from '../../db/pool';
import type {
  ChaosUser,
  DisputeRecord,
  OperatorRefundRequestRecord,
  PurchaseRecord,
  RefundAsk,
} from '../journal';
import { type FlowContext, sleep } from './context';
import { buy } from './purchases';
import { chargeUsage } from './usage';
import { readBalance, signUp } from './users';

export const REFUND_FINAL: ReadonlySet<string> = new Set(['succeeded', 'failed']);
const REASONS = ['unused', 'technical_issue', 'duplicate', 'other'] as const;

const refundAnswer = z.object({
  id: z.uuid(),
  purchaseId: z.uuid(),
  credits: z.number().int().positive(),
  amountCents: z.number().int().positive(),
  status: z.enum(['pending', 'succeeded', 'failed']),
});
const purchaseView = z.object({ status: z.string() });
// ── The Stripe side: the Dashboard (refunds) and the cardholder's bank (disputes) ─────────────

const clients = new WeakMap<object, Stripe>();

/** The real SDK against the stand-in, as the Stripe Dashboard would act on the account. */
function dashboard(ctx: FlowContext): Stripe {
  let client = clients.get(ctx.standIn);
  if (!client) {
    client = createStripeClient(ctx.standIn.secretKey, {
      host: ctx.standIn.host,
      port: ctx.standIn.port,
      protocol: 'http',
    });
    clients.set(ctx.standIn, client);
  }
  return client;
}

/** The payment intent that paid the purchase's Checkout Session. */
export function paymentIntentOf(ctx: FlowContext, sessionId: string): string | null {
  const pi = ctx.standIn.session(sessionId).payment_intent as unknown;
  if (typeof pi === 'string') return pi;
  if (pi && typeof pi === 'object' && 'id' in pi) return String((pi as { id: unknown }).id);
  return null;
}

/** What of the charge Stripe has not refunded yet (minor units). */
export async function unrefundedCents(ctx: FlowContext, paymentIntentId: string): Promise<number> {
  const chargeId = ctx.standIn.paymentIntent(paymentIntentId).latest_charge;
  if (!chargeId) return 0;
  const charge = await dashboard(ctx).charges.retrieve(chargeId);
  return charge.amount - charge.amount_refunded;
}

/** The charge as Stripe has it: amount and what is refunded of it. */
export async function stripeCharge(
  ctx: FlowContext,
  paymentIntentId: string,
): Promise<{ id: string; amount: number; refunded: number } | null> {
  const chargeId = ctx.standIn.paymentIntent(paymentIntentId).latest_charge;
  if (!chargeId) return null;
  const charge = await dashboard(ctx).charges.retrieve(chargeId);
  return { id: charge.id, amount: charge.amount, refunded: charge.amount_refunded };
}

/** A Stripe refund by id (its amount, payment and metadata), or null. */
export async function stripeRefund(
  ctx: FlowContext,
  id: string,
): Promise<{ amount: number; paymentIntent: string | null; metadata: Record<string, string> } | null> {
  try {
    const r = await dashboard(ctx).refunds.retrieve(id);
    const pi = typeof r.payment_intent === 'string' ? r.payment_intent : (r.payment_intent?.id ?? null);
    return { amount: r.amount, paymentIntent: pi, metadata: r.metadata ?? {} };
  } catch {
    return null;
  }
}

/** A refund made in the Stripe Dashboard: Stripe's charge.refunded must take back credits in proportion. */
async function dashboardRefund(ctx: FlowContext, p: PurchaseRecord, pi: string, amountCents: number) {
  const record = { purchaseId: p.purchaseId, paymentIntentId: pi, amountCents };
  try {
    const refund = await dashboard(ctx).refunds.create(
      { payment_intent: pi, amount: amountCents },
      { idempotencyKey: `chaos-dashboard-${randomUUID()}` },
    );
    ctx.journal.dashboardRefunds.push({ ...record, stripeRefundId: refund.id });
    ctx.stats.record('Dashboard refund (stand-in)', '2xx');
  } catch (error) {
    ctx.journal.dashboardRefunds.push({ ...record, error: (error as Error).message.slice(0, 200) });
    ctx.stats.record('Dashboard refund (stand-in)', 'other 4xx');
  }
}

// ── The operator's API ───────────────────────────────────────────────────────────────────────

/** Sends (or sends again) one POST /v1/admin/refunds under its Idempotency-Key and records the answer. */
async function send(ctx: FlowContext, r: OperatorRefundRequestRecord, kind: string): Promise<void> {
  const answer = await ctx.api.call({
    kind,
    method: 'POST',
    path: '/v1/admin/refunds',
    key: ctx.adminKey,
    body: {
      purchaseId: r.purchase.purchaseId,
      reason: r.reason,
      ...(r.credits === undefined ? {} : { credits: r.credits }),
    },
    idempotencyKey: r.key,
  });
  r.status = answer.status;
  if (answer.status !== 201 && answer.status !== 200) return;
  const made = refundAnswer.parse(answer.body);
  if (r.id !== undefined && r.id !== made.id)
    ctx.journal.idempotencyMismatches.push(`operator refund key ${r.key}: ${r.id} then ${made.id}`);
  r.id = made.id;
  r.answered = { credits: made.credits, amountCents: made.amountCents, status: made.status };
}

const ASK_KIND: Record<RefundAsk, string> = {
  refund: 'operator refund',
  'rest of the purchase': 'operator refund (the rest)',
  'above refundable': 'operator refund (above refundable)',
  race: 'operator refund (two operators racing)',
  'same key': 'operator refund (same key)',
  'refused by Stripe': 'operator refund (Stripe refuses)',
  'while disputed': 'operator refund (while disputed)',
};

async function requestRefund(
  ctx: FlowContext,
  purchase: PurchaseRecord,
  ask: RefundAsk,
  credits: number | undefined,
  refundableSeen: number | undefined,
  same?: { key: string; reason: string },
): Promise<OperatorRefundRequestRecord> {
  const r: OperatorRefundRequestRecord = {
    purchase,
    key: same?.key ?? `chaos-refund-${randomUUID()}`,
    ask,
    reason: same?.reason ?? ctx.rng.pick(REASONS),
    status: 0,
    sentAtMs: Date.now(),
    ...(credits === undefined ? {} : { credits }),
    ...(refundableSeen === undefined ? {} : { refundableSeen }),
  };
  ctx.journal.refundRequests.push(r);
  await send(ctx, r, ASK_KIND[ask]);
  return r;
}

/** Polls GET /v1/admin/refunds/:id until the refund is final (succeeded or failed), up to `seconds`. */
async function waitRefundFinal(
  ctx: FlowContext,
  r: OperatorRefundRequestRecord,
  seconds: number,
): Promise<string | undefined> {
  if (!r.id) return undefined;
  if (r.answered && REFUND_FINAL.has(r.answered.status)) r.seenFinal = r.answered.status;
  // Not past the load's deadline: the settle phase waits for the rest.
  const until = Math.min(Date.now() + seconds * 1000, ctx.deadlineMs);
  while (r.seenFinal === undefined && Date.now() < until) {
    const answer = await ctx.api.once({
      kind: 'operator refund (read)',
      method: 'GET',
      path: `/v1/admin/refunds/${r.id}`,
      key: ctx.adminKey,
    });
    if (answer.status === 200) {
      const status = refundAnswer.parse(answer.body).status;
      if (REFUND_FINAL.has(status)) r.seenFinal = status;
    }
    if (r.seenFinal === undefined) await sleep(300);
  }
  return r.seenFinal;
}

/** Polls the buyer's GET /v1/purchases/:id until it is credited (completed), up to `seconds`. */
async function waitCredited(ctx: FlowContext, user: ChaosUser, purchaseId: string, seconds: number) {
  const until = Math.min(Date.now() + seconds * 1000, ctx.deadlineMs);
  while (Date.now() < until) {
    const answer = await ctx.api.once({
      kind: 'purchase status',
      method: 'GET',
      path: `/v1/purchases/${purchaseId}`,
      key: user.apiKey,
    });
    if (answer.status === 200 && purchaseView.parse(answer.body).status === 'completed') return true;
    await sleep(300);
  }
  return false;
}

/** The buyer's purchased credits available now (null when no answer came). */
async function purchasedAvailable(ctx: FlowContext, user: ChaosUser): Promise<number | null> {
  return (await readBalance(ctx, user))?.buckets.purchased.available ?? null;
}

/**
 * A new buyer pays for the starter package, is credited, and sometimes spends a little of it.
 * Returns the purchase, its payment and the refundable credits the driver knows exactly (the
 * buyer's purchased credits: nothing else of theirs moves), or null.
 */
async function creditedBuyer(
  ctx: FlowContext,
  spend: boolean,
): Promise<{ user: ChaosUser; purchase: PurchaseRecord; pi: string; refundable: number } | null> {
  const user = await signUp(ctx);
  if (!user) return null;
  const purchase = await buy(ctx, user, 'paid');
  if (!purchase?.paid || !(await waitCredited(ctx, user, purchase.purchaseId, 25))) return null;
  const pi = paymentIntentOf(ctx, purchase.sessionId);
  if (!pi) return null;
  if (spend) {
    for (let i = ctx.rng.int(1, 3); i > 0; i--)
      if ((await chargeUsage(ctx, user)).outcome === 'unknown') return null; // refundable no longer known
  }
  const refundable = await purchasedAvailable(ctx, user);
  if (refundable === null || refundable < 2) return null;
  return { user, purchase, pi, refundable };
}

export type RefundScenario =
  | 'partial, then the rest'
  | 'all refundable'
  | 'above refundable'
  | 'two operators racing'
  | 'same key retried'
  | 'Dashboard after operator'
  | 'dispute'
  | 'dispute closed before created';

/**
 * A buyer's purchase refunded by the operator: in part (sometimes then the rest, which gets the
 * cents the parts rounded away), all that is refundable, more than that (409), by two operators at
 * once with different keys (one is refused), under one key sent again (the same refund), then in
 * the Stripe Dashboard; or disputed by the cardholder's bank (won or lost, sometimes with an
 * operator refund asked while open, sometimes with charge.dispute.created arriving after closed).
 */
export async function refundFlow(ctx: FlowContext): Promise<void> {
  const scenario = ctx.rng.weighted<RefundScenario>({
    'partial, then the rest': 3,
    'all refundable': 2,
    'above refundable': 2,
    'two operators racing': 2,
    'same key retried': 2,
    'Dashboard after operator': 3,
    dispute: 3,
    'dispute closed before created': 3,
  });
  const buyer = await creditedBuyer(ctx, ctx.rng.chance(0.5));
  if (!buyer) return;
  const { purchase, pi, refundable } = buyer;
  const final = (r: OperatorRefundRequestRecord) => waitRefundFinal(ctx, r, 20);
  switch (scenario) {
    case 'partial, then the rest': {
      const first = await requestRefund(ctx, purchase, 'refund', ctx.rng.int(1, refundable - 1), refundable);
      if ((await final(first)) === 'succeeded' && ctx.rng.chance(0.6))
        await final(await requestRefund(ctx, purchase, 'rest of the purchase', undefined, undefined));
      return;
    }
    case 'all refundable':
      await final(await requestRefund(ctx, purchase, 'refund', undefined, refundable));
      return;
    case 'above refundable': {
      const over = await requestRefund(
        ctx,
        purchase,
        'above refundable',
        refundable + ctx.rng.int(1, 200),
        refundable,
      );
      // Nothing moved: the refundable credits are all still there for a refund that fits.
      if (over.status === 409 && ctx.rng.chance(0.5))
        await final(await requestRefund(ctx, purchase, 'refund', refundable, refundable));
      return;
    }
    case 'two operators racing': {
      const each = Math.ceil((refundable + 1) / 2);
      const both = await Promise.all([
        requestRefund(ctx, purchase, 'race', each, refundable),
        requestRefund(ctx, purchase, 'race', each, refundable),
      ]);
      for (const r of both) await final(r);
      return;
    }
    case 'same key retried': {
      const first = await requestRefund(ctx, purchase, 'refund', ctx.rng.int(1, refundable), refundable);
      if (first.status !== 201 && first.status !== 200) return;
      // The operator's client retries: once after the answer, then twice at once.
      const again = () => requestRefund(ctx, purchase, 'same key', first.credits, refundable, first);
      await again();
      await Promise.all([again(), again()]);
      await final(first);
      return;
    }
    case 'Dashboard after operator': {
      const first = await requestRefund(ctx, purchase, 'refund', ctx.rng.int(1, refundable - 1), refundable);
      if ((await final(first)) !== 'succeeded') return;
      const left = await unrefundedCents(ctx, pi);
      if (left < 2) return;
      await dashboardRefund(ctx, purchase, pi, ctx.rng.int(1, Math.min(left - 1, 2000)));
      if (ctx.rng.chance(0.5)) {
        await sleep(ctx.rng.int(0, 1500));
        await final(await requestRefund(ctx, purchase, 'rest of the purchase', undefined, undefined));
      }
      return;
    }
    case 'dispute':
    case 'dispute closed before created':
      return disputeFlow(ctx, purchase, pi, refundable, scenario === 'dispute closed before created');
  }
}

/**
 * The cardholder's bank disputes the charge (all of what is not refunded, or a part), sometimes
 * after a partial operator refund; while it is open the operator may ask for a refund (Stripe
 * refuses a disputed charge, or nothing is left: 409); then Stripe closes it won or lost. With
 * `closedFirst`, charge.dispute.created is lost on its first delivery (the stand-in's dropNext,
 * set and used in one synchronous step, so no other event is touched) and delivered again once
 * charge.dispute.closed was answered, as Stripe's retry would.
 */
async function disputeFlow(
  ctx: FlowContext,
  purchase: PurchaseRecord,
  pi: string,
  refundable: number,
  closedFirst: boolean,
): Promise<void> {
  if (ctx.rng.chance(0.4)) {
    const first = await requestRefund(ctx, purchase, 'refund', ctx.rng.int(1, refundable - 1), refundable);
    if ((await waitRefundFinal(ctx, first, 20)) === undefined) return;
  }
  const left = await unrefundedCents(ctx, pi);
  if (left < 1) return;
  const amount = ctx.rng.chance(0.5) ? left : ctx.rng.int(1, left);
  if (closedFirst) {
    // The injector's own webhook faults use the same controls: wait for them to be off.
    const until = Date.now() + 10_000;
    while (ctx.webhookFaults.active && Date.now() < until) await sleep(200);
    if (ctx.webhookFaults.active) closedFirst = false;
  }
  if (closedFirst) ctx.standIn.faults.dropNext(1);
  const dispute = ctx.standIn.openDispute(pi, { amount });
  const createdEvent = eventsOf(ctx, 'charge.dispute.created', dispute.id).at(-1);
  const record: DisputeRecord = {
    purchaseId: purchase.purchaseId,
    paymentIntentId: pi,
    disputeId: dispute.id,
    amountCents: dispute.amount,
    outcome: ctx.rng.chance(0.5) ? 'won' : 'lost',
    closed: false,
    closedFirst,
  };
  ctx.journal.disputes.push(record);
  ctx.stats.record('dispute opened (stand-in)', '2xx');
  if (!closedFirst) {
    await sleep(ctx.rng.int(200, 2000));
    if (ctx.rng.chance(0.4)) {
      const r = await requestRefund(ctx, purchase, 'while disputed', undefined, undefined);
      await waitRefundFinal(ctx, r, 20);
    }
  }
  closeDispute(ctx, record);
  if (closedFirst && createdEvent) {
    const closedEvent = eventsOf(ctx, 'charge.dispute.closed', dispute.id).at(-1);
    const until = Math.min(Date.now() + 15_000, ctx.deadlineMs);
    while (
      closedEvent &&
      Date.now() < until &&
      !ctx.standIn.deliveries.some((d) => d.eventId === closedEvent.id && (d.status ?? 0) < 300 && d.status)
    )
      await sleep(200);
    ctx.standIn.redeliver(createdEvent.id);
    ctx.stats.record('dispute created, redelivered after closed', '2xx');
  }
}

/** Stripe's review ends as the record planned. */
function closeDispute(ctx: FlowContext, record: DisputeRecord): void {
  if (record.closed) return;
  ctx.standIn.closeDispute(record.disputeId, record.outcome);
  record.closed = true;
  ctx.stats.record(`dispute ${record.outcome} (stand-in)`, '2xx');
}

/**
 * Before the load (no other refund is made then, so the fault cannot hit a duplicate charge's
 * refund): `count` buyers each get an operator refund that Stripe refuses (refundFaults.failNext),
 * which must fail and release its credits; half the time a new request, with a new key, then
 * refunds them.
 */
export async function seedRefusedRefunds(ctx: FlowContext, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const buyer = await creditedBuyer(ctx, false);
    if (!buyer) continue;
    ctx.standIn.refundFaults.failNext(1);
    let final: string | undefined;
    try {
      const r = await requestRefund(ctx, buyer.purchase, 'refused by Stripe', undefined, buyer.refundable);
      // The fault stays armed until Stripe has been asked: nothing else refunds meanwhile.
      final = await waitRefundFinal(ctx, r, 60);
    } finally {
      ctx.standIn.refundFaults.reset();
    }
    // Its credits are back: all of them are refundable again.
    if (final === 'failed' && ctx.rng.chance(0.5)) {
      const again = await requestRefund(ctx, buyer.purchase, 'refund', undefined, buyer.refundable);
      await waitRefundFinal(ctx, again, 20);
    }
  }
}

// ── The settle phase's part: every refund answered and final, every dispute closed ───────────

/** Refund requests that never got an answer are sent again under their key. */
export async function resendUnansweredRefunds(ctx: FlowContext): Promise<number> {
  const unanswered = ctx.journal.refundRequests.filter((r) => r.status === 0 || r.status >= 500);
  for (const r of unanswered) {
    r.resentAtSettle = true;
    try {
      await send(ctx, r, 'operator refund (re-sent at settle)');
    } catch (error) {
      ctx.journal.driverErrors.push(error instanceof Error ? error.message.slice(0, 300) : String(error));
    }
  }
  return unanswered.length;
}

/** Delivers an event again (as Stripe's retries would) if none of its deliveries was answered 2xx. */
function redeliverIfLost(ctx: FlowContext, eventId: string, nowMs: number): boolean {
  const mine = ctx.standIn.deliveries.filter((d) => d.eventId === eventId);
  if (mine.some((d) => d.status !== undefined && d.status < 300)) return false;
  // Still being retried by the stand-in: leave it a moment.
  const last = mine.at(-1);
  if (last && last.attempt > 0 && nowMs - last.at < 3000) return true;
  ctx.standIn.redeliver(eventId);
  ctx.journal.redelivered.add(eventId);
  return true;
}

/** The events of one Stripe object of a type, oldest first. */
function eventsOf(ctx: FlowContext, type: string, objectId: string) {
  return ctx.standIn.events.filter(
    (e) => e.type === type && (e.data.object as { id?: string }).id === objectId,
  );
}

/**
 * What of refunds and disputes is still under way: operator refunds pending or in flight,
 * disputes open (closed now in Stripe if their flow ended first; their events delivered again
 * if lost), charges whose refunded total the system has not recorded (the last charge.refunded
 * delivered again if lost), and Dashboard take-backs whose workflow has not finished.
 */
export async function refundsPending(
  ctx: FlowContext,
  sql: Sql,
  workflowDone: (workflowId: string) => Promise<boolean>,
): Promise<string[]> {
  const now = Date.now();
  const waiting: string[] = [];
  const pending = await sql<{ id: string }[]>`
    SELECT id::text FROM operator_refunds WHERE status = 'pending'`;
  waiting.push(...pending.map((r) => `operator refund ${r.id} pending`));
  const inFlight = await sql<{ id: string }[]>`SELECT id::text FROM purchase_refunds WHERE in_flight`;
  waiting.push(...inFlight.map((r) => `refund step ${r.id} in flight`));

  const rows = await sql<{ id: string; status: string }[]>`SELECT id, status FROM disputes`;
  const disputeStatus = new Map(rows.map((r) => [r.id, r.status]));
  for (const d of ctx.journal.disputes) {
    closeDispute(ctx, d);
    const status = disputeStatus.get(d.disputeId);
    if (status === d.outcome) continue;
    waiting.push(`dispute ${d.disputeId} ${status ?? 'unknown to the system'}`);
    for (const type of ['charge.dispute.created', 'charge.dispute.closed'])
      for (const e of eventsOf(ctx, type, d.disputeId)) redeliverIfLost(ctx, e.id, now);
  }

  const touched = new Map<string, string>();
  for (const r of ctx.journal.refundRequests) {
    const pi = paymentIntentOf(ctx, r.purchase.sessionId);
    if (pi) touched.set(pi, r.purchase.purchaseId);
  }
  for (const r of ctx.journal.dashboardRefunds) touched.set(r.paymentIntentId, r.purchaseId);
  const recorded = await sql<{ pi: string; through: number }[]>`
    SELECT payment_intent_id AS pi, coalesce(max(refunded_through_cents), 0)::bigint AS through
    FROM purchase_refunds
    WHERE payment_intent_id = ANY(${[...touched.keys()]}) AND reason IN ('purchase_refunded', 'operator_refund')
      AND NOT in_flight
    GROUP BY 1`;
  const throughOf = new Map(recorded.map((r) => [r.pi, r.through]));
  for (const pi of touched.keys()) {
    const charge = await stripeCharge(ctx, pi);
    if (!charge || charge.refunded === (throughOf.get(pi) ?? 0)) continue;
    waiting.push(
      `charge ${charge.id}: Stripe refunded ${charge.refunded}, recorded ${throughOf.get(pi) ?? 0}`,
    );
    const last = eventsOf(ctx, 'charge.refunded', charge.id).at(-1);
    if (last) redeliverIfLost(ctx, last.id, now);
  }

  const steps = await sql<{ pi: string; through: number }[]>`
    SELECT payment_intent_id AS pi, refunded_through_cents AS through FROM purchase_refunds
    WHERE reason = 'purchase_refunded' AND payment_intent_id = ANY(${[...touched.keys()]})`;
  for (const s of steps) {
    const id = `purchase-refunded-${s.pi}-${s.through}`;
    if (!(await workflowDone(id))) waiting.push(`workflow ${id} running`);
  }
  return waiting;
}

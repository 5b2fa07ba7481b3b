import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ChaosUser, PurchaseIntent, PurchaseRecord } from '../journal';
import { type FlowContext, sleep } from './context';

/** The starter package every chaos purchase buys (db/migrations/002_catalog.sql). */
export const STARTER = { credits: 4500, priceCents: 5000 } as const;

const started = z.object({ id: z.uuid(), credits: z.number().int().positive(), checkoutUrl: z.url() });
const receipts = z.object({ data: z.array(z.object({ kind: z.string() })) });

/** Presses a button on the stand-in's hosted checkout page, as the buyer's browser would. */
async function pressCheckout(
  ctx: FlowContext,
  checkoutUrl: string,
  action: 'pay' | 'decline',
  card?: string,
): Promise<number> {
  const res = await fetch(checkoutUrl, {
    method: 'POST',
    body: new URLSearchParams({ action, ...(card ? { card } : {}) }),
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  ctx.stats.record(
    'checkout (stand-in)',
    res.status < 400 ? '2xx' : res.status === 402 ? '402' : 'other 4xx',
  );
  return res.status;
}

/**
 * Buys the starter package: POST /v1/purchases (sometimes twice under one Idempotency-Key, which
 * must name the same purchase), then what the buyer does on the checkout page: pay (with the
 * prefilled 4242 card unless `card` says another), pay with a declining card, pay and be
 * charged twice by Stripe, or walk away.
 */
export async function buy(
  ctx: FlowContext,
  user: ChaosUser,
  intent: PurchaseIntent,
  options: { topUpFor?: string; card?: string } = {},
): Promise<PurchaseRecord | null> {
  const { topUpFor, card } = options;
  const key = `chaos-purchase-${randomUUID()}`;
  const spec = {
    kind: 'purchase',
    method: 'POST' as const,
    path: '/v1/purchases',
    key: user.apiKey,
    body: { packageId: 'starter' },
    idempotencyKey: key,
  };
  const answer = await ctx.api.call(spec);
  if (answer.status !== 201 && answer.status !== 200) return null;
  const purchase = started.parse(answer.body);
  if (ctx.rng.chance(0.2)) {
    const again = await ctx.api.call({ ...spec, kind: 'purchase (same key)' });
    if ((again.status === 200 || again.status === 201) && again.body.id !== purchase.id)
      ctx.journal.idempotencyMismatches.push(
        `purchase key ${key}: ${purchase.id} then ${String(again.body.id)}`,
      );
  }
  const sessionId = new URL(purchase.checkoutUrl).pathname.split('/').pop()!;
  const record: PurchaseRecord = {
    user,
    purchaseId: purchase.id,
    sessionId,
    intent,
    credits: purchase.credits,
    paid: false,
    ...(topUpFor ? { topUpFor } : {}),
    ...(card ? { card } : {}),
  };
  ctx.journal.purchases.push(record);
  if (intent === 'declined') await pressCheckout(ctx, purchase.checkoutUrl, 'decline');
  if (intent === 'paid' || intent === 'paid twice') {
    record.paid = (await pressCheckout(ctx, purchase.checkoutUrl, 'pay', card)) === 303;
  }
  if (intent === 'paid twice' && record.paid) {
    const { paymentIntent, event } = ctx.standIn.simulateDuplicateCharge(sessionId);
    record.duplicate = { paymentIntentId: paymentIntent.id, eventId: event.id };
  }
  return record;
}

/**
 * Waits until the user's receipt is in GET /v1/receipts: the purchase workflow sends it after
 * the credit activity has finished, and that activity records the paying card's fingerprint and
 * saves the card (when the buyer consented) before it returns. So from then on every referral
 * decision sees the card, and auto top-up can charge it.
 */
export async function waitForReceipt(ctx: FlowContext, apiKey: string, seconds: number): Promise<boolean> {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const answer = await ctx.api.once({
      kind: 'receipts (read)',
      method: 'GET',
      path: '/v1/receipts',
      key: apiKey,
    });
    if (answer.status === 200 && receipts.parse(answer.body).data.length > 0) return true;
    await sleep(250);
  }
  return false;
}

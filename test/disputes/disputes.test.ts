import { workflowIds } from '../../workflows/messages';
import { CARD_A, freshEmail, referralOf, referralsApi } from '../referrals/support';
import { refundsApi, spend } from '../refunds/support';
import { startTestApp, type TestApp } from '../support/app';
import { waitFor } from '../support/wait';
import { startTestWorker, type TestWorker } from '../support/worker';

/**
 * Disputes (DESIGN.md §12) on the real stack: the stand-in opens and closes them as a bank and
 * Stripe's review would, and its charge.dispute.* webhooks (duplicated, reordered, redelivered at
 * will) reach the API, whose dispute workflow holds, posts or releases the disputed credits.
 * Rewards clear after an hour here, so a dispute can still take a referral reward back.
 */

let app: TestApp;
let worker: TestWorker;
let r: ReturnType<typeof referralsApi>;
let x: ReturnType<typeof refundsApi>;

beforeAll(async () => {
  app = await startTestApp({ earning: { clearingSeconds: 3600 } });
  worker = await startTestWorker(app);
  r = referralsApi(app);
  x = refundsApi(app);
});
afterEach(async () => {
  await app.standIn.idle();
  app.standIn.faults.reset();
});
afterAll(async () => {
  await worker.stop();
  await app.close();
});

/** A user who bought and paid the Starter Package: 4,500 credits for $50.00. */
async function buyer() {
  const user = await r.signUp();
  const purchase = await r.paid(user.apiKey, CARD_A);
  return { ...user, ...purchase };
}

interface DisputeRow {
  status: string;
  credits_due: number;
  credits_held: number | null;
  held_at: Date | null;
}

async function disputeRow(id: string): Promise<DisputeRow | null> {
  const [row] = await app.sql<DisputeRow[]>`
    SELECT status, credits_due, credits_held, held_at FROM disputes WHERE id = ${id}`;
  return row ?? null;
}

/** The dispute once its credits are held (the workflow's first step has run). */
function held(id: string) {
  return waitFor(`dispute ${id} held`, async () => {
    const row = await disputeRow(id);
    return row?.held_at ? row : null;
  });
}

/** The dispute's workflow has ended: every ledger step it takes is done. */
async function closed(id: string) {
  await app.temporal.workflow.getHandle(workflowIds.dispute(id)).result();
  return (await disputeRow(id))!;
}

async function disputesOf(key: string, purchaseId: string) {
  const res = await x.api.get<{ disputes: Record<string, unknown>[] }>(`/v1/purchases/${purchaseId}`, key);
  return res.body.disputes;
}

test('when a dispute opens, then its credits are frozen; when it is lost, then they leave once for system:disputes', async () => {
  const b = await buyer();
  const dispute = app.standIn.openDispute(b.paymentIntentId);
  expect(dispute).toMatchObject({
    id: expect.stringMatching(/^dp_/),
    amount: 5000,
    status: 'needs_response',
  });
  expect(await held(dispute.id)).toMatchObject({ status: 'open', credits_due: 4500, credits_held: 4500 });
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 4500, held: 4500, available: 0 });
  expect(await disputesOf(b.apiKey, b.purchaseId)).toEqual([
    expect.objectContaining({
      id: dispute.id,
      status: 'open',
      amountCents: 5000,
      creditsDue: 4500,
      creditsHeld: 4500,
    }),
  ]);

  app.standIn.closeDispute(dispute.id, 'lost');
  expect(await closed(dispute.id)).toMatchObject({ status: 'lost', credits_held: 4500 });
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 0, held: 0, available: 0 });
  expect((await x.entries(b.apiKey, 'dispute')).map((t) => t.amount)).toEqual([-4500]);
  expect(await disputesOf(b.apiKey, b.purchaseId)).toEqual([
    expect.objectContaining({
      status: 'lost',
      creditsHeld: 4500,
      creditsShortfall: 0,
      closedAt: expect.any(String),
    }),
  ]);
  // The purchase keeps its status: a dispute is shown next to it, not as a new status.
  expect((await x.api.get<{ status: string }>(`/v1/purchases/${b.purchaseId}`, b.apiKey)).body.status).toBe(
    'completed',
  );
});

test('when a dispute of part of the payment is won, then the frozen share is released and nothing leaves', async () => {
  const b = await buyer();
  const dispute = app.standIn.openDispute(b.paymentIntentId, {
    amount: 2500,
    reason: 'product_not_received',
  });
  // floor(4500 × 2500 / 5000) = 2250 credits.
  expect(await held(dispute.id)).toMatchObject({ credits_due: 2250, credits_held: 2250 });
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 4500, held: 2250, available: 2250 });

  app.standIn.closeDispute(dispute.id, 'won');
  expect(await closed(dispute.id)).toMatchObject({ status: 'won' });
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 4500, held: 0, available: 4500 });
  expect(await x.entries(b.apiKey, 'dispute')).toEqual([]);
  expect(await disputesOf(b.apiKey, b.purchaseId)).toEqual([
    expect.objectContaining({ status: 'won', reason: 'product_not_received', creditsDue: 2250 }),
  ]);
});

test('when most of the disputed credits were already spent, then what is left is frozen and the shortfall recorded', async () => {
  const b = await buyer();
  await spend(app, b.id, 4000);
  const dispute = app.standIn.openDispute(b.paymentIntentId);
  expect(await held(dispute.id)).toMatchObject({ credits_due: 4500, credits_held: 500 });
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 500, held: 500, available: 0 });
  expect(await disputesOf(b.apiKey, b.purchaseId)).toEqual([
    expect.objectContaining({ creditsDue: 4500, creditsHeld: 500, creditsShortfall: 4000 }),
  ]);
  app.standIn.closeDispute(dispute.id, 'lost');
  await closed(dispute.id);
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 0, held: 0, available: 0 });
});

test('when credits come back to the user after the hold was planned, then a lost dispute takes them too, up to its credits due, once', async () => {
  const b = await buyer();
  await spend(app, b.id, 4000);
  const dispute = app.standIn.openDispute(b.paymentIntentId);
  expect(await held(dispute.id)).toMatchObject({ credits_due: 4500, credits_held: 500 });
  // Credits back in the purchased bucket while the dispute is open (as an operator refund that
  // Stripe refused for the dispute gives back its hold): 1,200 of them.
  await app.ledger.credit({
    idempotencyKey: `back:${b.id}`,
    userId: b.id,
    amount: 1200,
    from: 'grants',
    kind: 'grant',
  });
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 1700, held: 500, available: 1200 });
  app.standIn.closeDispute(dispute.id, 'lost');
  expect(await closed(dispute.id)).toMatchObject({ status: 'lost', credits_held: 1700 });
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 0, held: 0, available: 0 });
  expect(await disputesOf(b.apiKey, b.purchaseId)).toEqual([
    expect.objectContaining({ creditsDue: 4500, creditsHeld: 1700, creditsShortfall: 2800 }),
  ]);
});

test('when the dispute’s webhooks come duplicated and closed before created, then it still ends lost with its credits taken once', async () => {
  const b = await buyer();
  app.standIn.faults.duplicate(3);
  // Collect both events, then deliver them newest first: charge.dispute.closed arrives first.
  app.standIn.faults.reorder(300);
  const dispute = app.standIn.openDispute(b.paymentIntentId);
  app.standIn.closeDispute(dispute.id, 'lost');
  await app.standIn.idle();
  expect(await closed(dispute.id)).toMatchObject({ status: 'lost', credits_held: 4500 });
  app.standIn.faults.reset();
  const ours = new Set(
    app.standIn.events
      .filter(
        (e) => e.type.startsWith('charge.dispute.') && (e.data.object as { id: string }).id === dispute.id,
      )
      .map((e) => e.id),
  );
  const order = app.standIn.deliveries.filter((d) => ours.has(d.eventId)).map((d) => d.type);
  expect(order[0]).toBe('charge.dispute.closed');
  expect(order.filter((t) => t === 'charge.dispute.created')).toHaveLength(3);

  // A late redelivery of the created event after it all ended changes nothing either.
  const created = app.standIn.events.find(
    (e) => e.type === 'charge.dispute.created' && (e.data.object as { id: string }).id === dispute.id,
  )!;
  app.standIn.redeliver(created.id);
  await app.standIn.idle();
  const answered = app.standIn.deliveries.filter((d) => d.eventId === created.id && d.status === 200);
  expect(answered.length).toBeGreaterThanOrEqual(4);
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 0, held: 0, available: 0 });
  expect((await x.entries(b.apiKey, 'dispute')).map((t) => t.amount)).toEqual([-4500]);
  expect(await app.sql`SELECT 1 FROM disputes WHERE id = ${dispute.id}`).toHaveLength(1);
});

test('when a won dispute’s events are duplicated and reordered, then the credits are frozen and released once', async () => {
  const b = await buyer();
  app.standIn.faults.duplicate(2);
  app.standIn.faults.reorder(300);
  const dispute = app.standIn.openDispute(b.paymentIntentId);
  app.standIn.closeDispute(dispute.id, 'won');
  await app.standIn.idle();
  expect(await closed(dispute.id)).toMatchObject({ status: 'won' });
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 4500, held: 0, available: 4500 });
  const [hold] = await app.sql<{ status: string }[]>`
    SELECT h.status FROM holds h JOIN disputes d ON d.hold_id = h.id WHERE d.id = ${dispute.id}`;
  expect(hold!.status).toBe('voided');
});

test('when the disputed purchase earned its buyer’s referrer a reward, then the reward is taken back as disputed', async () => {
  const referrer = await r.signUp();
  const referee = await r.signUp(freshEmail('disputer'), referrer.referralCode);
  const { paymentIntentId } = await r.paid(referee.apiKey, CARD_A);
  expect(await referralOf(app, referee.id)).toMatchObject({ status: 'rewarded', reward_credits: 450 });
  const dispute = app.standIn.openDispute(paymentIntentId);
  await held(dispute.id);
  await waitFor('the clawback', async () => (await referralOf(app, referee.id))?.status === 'clawed_back');
  const [row] = await app.sql<{ clawback_reason: string; clawed_back_credits: number }[]>`
    SELECT clawback_reason, clawed_back_credits FROM referrals WHERE referee_id = ${referee.id}`;
  expect(row).toEqual({ clawback_reason: 'disputed', clawed_back_credits: 450 });
  app.standIn.closeDispute(dispute.id, 'won');
  await closed(dispute.id);
});

test('when a disputed purchase’s reward was spent, then its shortfall is withheld while the dispute is open and given back when it is won', async () => {
  const referrer = await r.signUp();
  const referee = await r.signUp(freshEmail('spender'), referrer.referralCode);
  const { paymentIntentId } = await r.paid(referee.apiKey, CARD_A);
  expect(await referralOf(app, referee.id)).toMatchObject({ status: 'rewarded', reward_credits: 450 });
  await app.ledger.debit({
    idempotencyKey: `usage:${referrer.id}:spends-reward`,
    userId: referrer.id,
    amount: 300,
    kind: 'usage:conversation',
  });
  const withheld = async () => {
    const [row] = await app.sql<{ withheld: number }[]>`
      SELECT coalesce(sum(w.amount), 0)::int AS withheld FROM withholdings w
      JOIN accounts a ON a.id = w.account_id WHERE a.user_id = ${referrer.id}`;
    return row!.withheld;
  };
  const dispute = app.standIn.openDispute(paymentIntentId);
  await held(dispute.id);
  await waitFor('the clawback', async () => (await referralOf(app, referee.id))?.status === 'clawed_back');
  expect(await referralOf(app, referee.id)).toMatchObject({
    clawback_reason: 'disputed',
    clawed_back_credits: 150,
  });
  expect(await withheld()).toBe(300);

  app.standIn.closeDispute(dispute.id, 'won');
  await closed(dispute.id);
  expect(await withheld()).toBe(0);
  // The reward taken back stays taken back; nothing else of the referrer's moved.
  expect(await referralOf(app, referee.id)).toMatchObject({
    status: 'clawed_back',
    clawed_back_credits: 150,
  });
  expect((await r.balance(referrer.apiKey)).buckets.earned).toMatchObject({ posted: 0 });
});

test('when an operator refunds a disputed purchase, then Stripe refuses it (charged back): the refund fails and only the dispute’s hold stays', async () => {
  const b = await buyer();
  const dispute = app.standIn.openDispute(b.paymentIntentId, { amount: 1000 });
  expect(await held(dispute.id)).toMatchObject({ credits_held: 900 });
  const res = await x.refund({ purchaseId: b.purchaseId, credits: 1000, reason: 'other' });
  expect(res.status).toBe(201);
  const failed = await x.settled(res.body.id);
  expect(failed.status).toBe('failed');
  expect(failed.failureReason).toMatch(/charged back; cannot issue a refund/);
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 4500, held: 900, available: 3600 });
  // The disputed credits are not refundable while the dispute is open.
  const tooMuch = await x.refund({ purchaseId: b.purchaseId, credits: 3601, reason: 'other' });
  expect(tooMuch.status).toBe(409);
  expect(tooMuch.body.error.message).toMatch(/at most 3,600 credits/);

  app.standIn.closeDispute(dispute.id, 'won');
  await closed(dispute.id);
  const after = await x.refund({ purchaseId: b.purchaseId, credits: 1000, reason: 'other' });
  expect((await x.settled(after.body.id)).status).toBe('succeeded');
  await x.webhooksSettled(b.paymentIntentId);
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 3500, held: 0, available: 3500 });
});

test('when Stripe is asked for a dispute, then the stand-in answers it as the webhooks described it', async () => {
  const b = await buyer();
  const dispute = app.standIn.openDispute(b.paymentIntentId, { amount: 1234 });
  const seen = await app.services.stripe.disputes.retrieve(dispute.id);
  expect(seen).toMatchObject({
    id: dispute.id,
    object: 'dispute',
    amount: 1234,
    currency: 'usd',
    payment_intent: b.paymentIntentId,
    status: 'needs_response',
    reason: 'fraudulent',
  });
  const listed = await app.services.stripe.disputes.list({ payment_intent: b.paymentIntentId });
  expect(listed.data.map((d) => d.id)).toEqual([dispute.id]);
  await held(dispute.id);
  app.standIn.closeDispute(dispute.id, 'lost');
  await closed(dispute.id);
  expect((await app.services.stripe.disputes.retrieve(dispute.id)).status).toBe('lost');
  expect(() => app.standIn.closeDispute(dispute.id, 'won')).toThrow(/already closed/);
  expect(() => app.standIn.openDispute(b.paymentIntentId)).toThrow(/already disputed/);
});

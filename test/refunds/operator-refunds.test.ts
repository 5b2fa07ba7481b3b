import { CARD_A, freshEmail, referralOf, referralsApi, refundSettled } from '../referrals/support';
import { ADMIN_KEY, startTestApp, type TestApp } from '../support/app';
import { startTestWorker, type TestWorker } from '../support/worker';
import { refundsApi, spend } from './support';

/**
 * Operator refunds (DESIGN.md §12) on the real stack: the API, a worker, Postgres, Temporal and
 * the Stripe stand-in, whose charge.refunded for each refund reaches the webhook as on Stripe.
 * Rewards clear after an hour here, so a refund can still take a referral reward back.
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
afterEach(() => {
  app.standIn.refundFaults.reset();
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

async function purchaseOf(key: string, id: string) {
  const res = await x.api.get<{
    status: string;
    refunds: { reason: string; amountCents: number; creditsDue: number; creditsReversed: number }[];
    disputes: unknown[];
  }>(`/v1/purchases/${id}`, key);
  return res.body;
}

async function refundRows(purchaseId: string) {
  return app.sql<
    { reason: string; refunded_through_cents: number; credits_due: number; in_flight: boolean }[]
  >`
    SELECT reason, refunded_through_cents, credits_due, in_flight FROM purchase_refunds
    WHERE purchase_id = ${purchaseId} ORDER BY refunded_through_cents`;
}

test('when an operator refunds part of a purchase, then Stripe refunds that share, the credits leave once (its charge.refunded takes nothing more), and the user sees it', async () => {
  const b = await buyer();
  const res = await x.refund({ purchaseId: b.purchaseId, credits: 1000, reason: 'unused' }, 'refund-part-1');
  expect(res.status).toBe(201);
  // floor(1000 × 5000 / 4500) = 1111 cents.
  expect(res.body).toMatchObject({
    purchaseId: b.purchaseId,
    credits: 1000,
    amountCents: 1111,
    currency: 'usd',
  });
  const done = await x.settled(res.body.id);
  expect(done).toMatchObject({ status: 'succeeded', failureReason: null, reason: 'unused' });
  await x.webhooksSettled(b.paymentIntentId);

  expect(await x.refundedInStripe(b.paymentIntentId)).toBe(1111);
  const stripeRefund = await app.services.stripe.refunds.retrieve(done.stripeRefundId!);
  expect(stripeRefund).toMatchObject({
    amount: 1111,
    metadata: { refundId: done.id, purchaseId: b.purchaseId },
  });
  // Taken once: by the refund's own hold, and not again by the Dashboard path.
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 3500, held: 0, available: 3500 });
  expect(await x.entries(b.apiKey, 'operator_refund')).toEqual([
    expect.objectContaining({ amount: -1000, description: `refund of purchase ${b.purchaseId}` }),
  ]);
  expect(await x.entries(b.apiKey, 'purchase_refund')).toEqual([]);
  const purchase = await purchaseOf(b.apiKey, b.purchaseId);
  expect(purchase.status).toBe('partially_refunded');
  expect(purchase.refunds).toEqual([
    expect.objectContaining({
      reason: 'operator_refund',
      amountCents: 1111,
      creditsDue: 1000,
      creditsReversed: 1000,
    }),
  ]);
  expect(purchase.disputes).toEqual([]);

  const receipts = await x.api.get<{ data: { subject: string; body: string }[] }>('/v1/receipts', b.apiKey);
  expect(receipts.body.data).toContainEqual(
    expect.objectContaining({ subject: 'Refund: 1,000 credits ($11.11)' }),
  );
  const page = (await x.api.raw<string>('GET', '/usercredits', { key: b.apiKey })).body;
  expect(page).toContain('refunded 1,000 credits ($11.11)');

  // The same request again is the same refund; the event delivered again takes nothing either.
  const again = await x.refund(
    { purchaseId: b.purchaseId, credits: 1000, reason: 'unused' },
    'refund-part-1',
  );
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ id: done.id, status: 'succeeded' });
  const event = app.standIn.events.find(
    (e) =>
      e.type === 'charge.refunded' &&
      (e.data.object as { payment_intent: string }).payment_intent === b.paymentIntentId,
  )!;
  app.standIn.redeliver(event.id);
  await x.webhooksSettled(b.paymentIntentId);
  expect(await x.refundedInStripe(b.paymentIntentId)).toBe(1111);
  expect(await x.purchased(b.apiKey)).toMatchObject({ posted: 3500, available: 3500 });
});

test('when a Dashboard refund follows an operator refund, then it takes its own share, and a final operator refund of the rest refunds the whole price', async () => {
  const b = await buyer();
  const first = await x.refund({ purchaseId: b.purchaseId, credits: 1000, reason: 'technical_issue' });
  expect((await x.settled(first.body.id)).status).toBe('succeeded');
  await x.webhooksSettled(b.paymentIntentId);

  // $10.00 more, refunded in the Stripe Dashboard: Stripe's total is now 2111 cents, whose share
  // is floor(4500 × 2111 / 5000) = 1899 credits; 1000 are refunded already, so this takes 899.
  await app.services.stripe.refunds.create({ payment_intent: b.paymentIntentId, amount: 1000 });
  await refundSettled(app, b.paymentIntentId, 2111);
  expect(await x.purchased(b.apiKey)).toMatchObject({ posted: 2601, available: 2601 });
  expect((await x.entries(b.apiKey, 'purchase_refund')).map((t) => t.amount)).toEqual([-899]);
  expect(
    (await refundRows(b.purchaseId)).map((s) => [s.reason, s.refunded_through_cents, s.credits_due]),
  ).toEqual([
    ['operator_refund', 1111, 1000],
    ['purchase_refunded', 2111, 899],
  ]);

  // Without `credits`: everything that is refundable, and the money that is left with it.
  const rest = await x.refund({ purchaseId: b.purchaseId, reason: 'other' });
  expect(rest.status).toBe(201);
  expect(rest.body).toMatchObject({ credits: 2601, amountCents: 2889 });
  expect((await x.settled(rest.body.id)).status).toBe('succeeded');
  await x.webhooksSettled(b.paymentIntentId);
  expect(await x.refundedInStripe(b.paymentIntentId)).toBe(5000);
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 0, held: 0, available: 0 });
  expect((await purchaseOf(b.apiKey, b.purchaseId)).status).toBe('refunded');
  const listed = await x.api.get<{ data: { id: string; status: string }[] }>(
    `/v1/admin/refunds?purchaseId=${b.purchaseId}`,
    ADMIN_KEY,
  );
  expect(listed.body.data.map((d) => d.status)).toEqual(['succeeded', 'succeeded']);
  // Nothing is left to refund.
  const more = await x.refund({ purchaseId: b.purchaseId, reason: 'other' });
  expect(more.status).toBe(409);
});

test('when more than the unused credits is asked for, then 409 names what is refundable and nothing moves', async () => {
  const b = await buyer();
  await spend(app, b.id, 4000);
  const res = await x.refund({ purchaseId: b.purchaseId, credits: 600, reason: 'unused' });
  expect(res.status).toBe(409);
  expect(res.body.error.message).toMatch(/^credits: at most 500 credits of this purchase are refundable/);
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 500, held: 0, available: 500 });
  expect(await app.sql`SELECT 1 FROM operator_refunds WHERE purchase_id = ${b.purchaseId}`).toHaveLength(0);
  expect(await x.refundedInStripe(b.paymentIntentId)).toBe(0);

  // Without `credits`, the 500 still unused: floor(500 × 5000 / 4500) = 555 cents.
  const all = await x.refund({ purchaseId: b.purchaseId, reason: 'unused' });
  expect(all.body).toMatchObject({ credits: 500, amountCents: 555 });
  expect((await x.settled(all.body.id)).status).toBe('succeeded');
  await x.webhooksSettled(b.paymentIntentId);
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 0, held: 0, available: 0 });
  expect(await x.refundedInStripe(b.paymentIntentId)).toBe(555);
});

test('when two operators refund the same purchase at once, then exactly one refund is made', async () => {
  const b = await buyer();
  const answers = await Promise.all([
    x.refund({ purchaseId: b.purchaseId, reason: 'unused' }, 'op-a'),
    x.refund({ purchaseId: b.purchaseId, reason: 'duplicate' }, 'op-b'),
  ]);
  expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
  const made = answers.find((a) => a.status === 201)!.body;
  expect(answers.find((a) => a.status === 409)!.body.error.message).toMatch(/at most 0 credits/);
  expect((await x.settled(made.id)).status).toBe('succeeded');
  await x.webhooksSettled(b.paymentIntentId);
  expect(await x.refundedInStripe(b.paymentIntentId)).toBe(5000);
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 0, held: 0, available: 0 });
  expect(await app.sql`SELECT 1 FROM operator_refunds WHERE purchase_id = ${b.purchaseId}`).toHaveLength(1);
});

test('when the user has other purchased credits and two refunds of one purchase race, then the purchase’s own credits still cap them', async () => {
  const b = await buyer();
  await r.paid(b.apiKey, CARD_A); // a second purchase: 9,000 unused credits in the bucket
  const answers = await Promise.all(
    ['race-1', 'race-2', 'race-3'].map((key) =>
      x.refund({ purchaseId: b.purchaseId, credits: 2000, reason: 'unused' }, key),
    ),
  );
  const made = answers.filter((a) => a.status === 201);
  expect(made).toHaveLength(2);
  expect(answers.filter((a) => a.status === 409)).toHaveLength(1);
  for (const m of made) expect((await x.settled(m.body.id)).status).toBe('succeeded');
  await x.webhooksSettled(b.paymentIntentId);
  // Both in Stripe, one after the other (the second waited for the first's step): 2222 + 2222.
  expect(await x.refundedInStripe(b.paymentIntentId)).toBe(4444);
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 5000, held: 0, available: 5000 });
  expect(
    (await refundRows(b.purchaseId)).map((s) => [s.reason, s.refunded_through_cents, s.in_flight]),
  ).toEqual([
    ['operator_refund', 2222, false],
    ['operator_refund', 4444, false],
  ]);
  expect(await x.entries(b.apiKey, 'purchase_refund')).toEqual([]);
});

test('when Stripe refuses the refund, then the held credits come back, nothing is refunded, and the refund shows failed with Stripe’s reason', async () => {
  const b = await buyer();
  app.standIn.refundFaults.failNext(1);
  const res = await x.refund({ purchaseId: b.purchaseId, credits: 1000, reason: 'unused' });
  expect(res.status).toBe(201);
  const failed = await x.settled(res.body.id);
  expect(failed).toMatchObject({ status: 'failed', stripeRefundId: null });
  expect(failed.failureReason).toMatch(/^Stripe refused the refund: Your Stripe balance is insufficient/);
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 4500, held: 0, available: 4500 });
  expect(await x.refundedInStripe(b.paymentIntentId)).toBe(0);
  expect(await refundRows(b.purchaseId)).toEqual([]);
  expect((await purchaseOf(b.apiKey, b.purchaseId)).status).toBe('completed');
  const failedList = await x.api.get<{ data: { id: string; failureReason: string }[] }>(
    '/v1/admin/refunds?status=failed',
    ADMIN_KEY,
  );
  expect(failedList.body.data.map((d) => d.id)).toContain(failed.id);

  // The failure left no claimed step behind: the next refund is the payment's first again.
  const retry = await x.refund({ purchaseId: b.purchaseId, credits: 1000, reason: 'unused' });
  expect((await x.settled(retry.body.id)).status).toBe('succeeded');
  await x.webhooksSettled(b.paymentIntentId);
  expect((await refundRows(b.purchaseId)).map((s) => s.refunded_through_cents)).toEqual([1111]);
  expect(await x.purchased(b.apiKey)).toMatchObject({ posted: 3500, available: 3500 });
});

test('when the refunded purchase earned its buyer’s referrer a reward, then the reward is taken back', async () => {
  const referrer = await r.signUp();
  const referee = await r.signUp(freshEmail('op-refund'), referrer.referralCode);
  const { purchaseId } = await r.paid(referee.apiKey, CARD_A);
  expect(await referralOf(app, referee.id)).toMatchObject({ status: 'rewarded', reward_credits: 450 });
  const res = await x.refund({ purchaseId, credits: 100, reason: 'unused' });
  expect((await x.settled(res.body.id)).status).toBe('succeeded');
  expect(await referralOf(app, referee.id)).toMatchObject({
    status: 'clawed_back',
    clawed_back_credits: 450,
  });
  const [row] = await app.sql<{ clawback_reason: string }[]>`
    SELECT clawback_reason FROM referrals WHERE referee_id = ${referee.id}`;
  expect(row!.clawback_reason).toBe('refunded');
});

test('when a user’s key or no key is used, then 403 or 401, and nothing is refunded', async () => {
  const b = await buyer();
  const asUser = await x.refund(
    { purchaseId: b.purchaseId, credits: 10, reason: 'unused' },
    undefined,
    b.apiKey,
  );
  expect(asUser.status).toBe(403);
  expect((await x.api.get('/v1/admin/refunds', b.apiKey)).status).toBe(403);
  const anonymous = await x.api.post('/v1/admin/refunds', { purchaseId: b.purchaseId, reason: 'unused' });
  expect(anonymous.status).toBe(401);
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 4500, held: 0, available: 4500 });
});

test('when the input is malformed, then 400 names the field; an unknown purchase is 404, an unpaid one 409', async () => {
  const b = await buyer();
  const cases: [Record<string, unknown>, string][] = [
    [{ purchaseId: b.purchaseId, reason: 'because' }, 'reason'],
    [{ purchaseId: b.purchaseId }, 'reason'],
    [{ purchaseId: b.purchaseId, credits: 0, reason: 'unused' }, 'credits'],
    [{ purchaseId: b.purchaseId, credits: 1.5, reason: 'unused' }, 'credits'],
    [{ purchaseId: b.purchaseId, credits: '5', reason: 'unused' }, 'credits'],
    [{ purchaseId: b.purchaseId, credits: -3, reason: 'unused' }, 'credits'],
    [{ purchaseId: 'not-a-uuid', reason: 'unused' }, 'purchaseId'],
    [{ reason: 'unused' }, 'purchaseId'],
    [{ purchaseId: b.purchaseId, reason: 'unused', note: 'x' }, 'note'],
  ];
  for (const [body, field] of cases) {
    const res = await x.refund(body);
    expect({ body, status: res.status, code: res.body.error?.code }).toEqual({
      body,
      status: 400,
      code: 'validation_error',
    });
    expect(res.body.error.message.startsWith(`${field}: `)).toBe(true);
  }
  const badKey = await x.refund({ purchaseId: b.purchaseId, reason: 'unused' }, 'bad key with spaces');
  expect(badKey.status).toBe(400);

  const unknown = await x.refund({ purchaseId: '00000000-0000-4000-8000-000000000000', reason: 'unused' });
  expect(unknown.status).toBe(404);
  const pending = await r.startBuying(b.apiKey);
  const unpaid = await x.refund({ purchaseId: pending.id, reason: 'unused' });
  expect(unpaid.status).toBe(409);
  expect(unpaid.body.error.message).toMatch(/is pending/);

  expect((await x.api.get('/v1/admin/refunds/not-a-uuid', ADMIN_KEY)).status).toBe(400);
  expect((await x.api.get('/v1/admin/refunds/00000000-0000-4000-8000-000000000000', ADMIN_KEY)).status).toBe(
    404,
  );
  expect((await x.api.get('/v1/admin/refunds?status=lost', ADMIN_KEY)).status).toBe(400);
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 4500, held: 0, available: 4500 });
  expect(await app.sql`SELECT 1 FROM operator_refunds WHERE purchase_id = ${b.purchaseId}`).toHaveLength(0);
});

test('when an Idempotency-Key is reused for another amount or purchase, then 409 idempotency_conflict and nothing more moves', async () => {
  const b = await buyer();
  const first = await x.refund({ purchaseId: b.purchaseId, credits: 100, reason: 'unused' }, 'reused-key');
  expect(first.status).toBe(201);
  await x.settled(first.body.id);
  const other = await x.refund({ purchaseId: b.purchaseId, credits: 200, reason: 'unused' }, 'reused-key');
  expect(other.status).toBe(409);
  expect(other.body.error.code).toBe('idempotency_conflict');
  await x.webhooksSettled(b.paymentIntentId);
  expect(await x.purchased(b.apiKey)).toMatchObject({ posted: 4400, available: 4400 });
});

test('when a refund is sent again with its purchase id in capitals, then it is the same request: a 200 replay, nothing more moves', async () => {
  const b = await buyer();
  const first = await x.refund({ purchaseId: b.purchaseId, credits: 100, reason: 'unused' }, 'capital-key');
  expect(first.status).toBe(201);
  await x.settled(first.body.id);
  const again = await x.refund(
    { purchaseId: b.purchaseId.toUpperCase(), credits: 100, reason: 'unused' },
    'capital-key',
  );
  expect(again.status).toBe(200);
  expect(again.body.id).toBe(first.body.id);
  await x.webhooksSettled(b.paymentIntentId);
  expect(await x.purchased(b.apiKey)).toMatchObject({ posted: 4400, available: 4400 });
});

test('when a key refused in a race is sent again after the credits came back, then it is refused again or refunds properly, never half', async () => {
  const b = await buyer();
  await r.paid(b.apiKey, CARD_A);
  // Both winners fail in Stripe, so the purchase's credits are all back afterwards.
  app.standIn.refundFaults.failNext(2);
  const keys = ['again-1', 'again-2', 'again-3'];
  const answers = await Promise.all(
    keys.map((key) => x.refund({ purchaseId: b.purchaseId, credits: 2000, reason: 'unused' }, key)),
  );
  const refused = answers.findIndex((a) => a.status === 409);
  expect(refused).toBeGreaterThanOrEqual(0);
  for (const a of answers.filter((a) => a.status === 201))
    expect((await x.settled(a.body.id)).status).toBe('failed');
  expect(await x.purchased(b.apiKey)).toEqual({ posted: 9000, held: 0, available: 9000 });

  const again = await x.refund({ purchaseId: b.purchaseId, credits: 2000, reason: 'unused' }, keys[refused]);
  if (again.status === 409) {
    expect(again.body.error.message).toMatch(/Idempotency-Key: an earlier request with this key was refused/);
  } else {
    expect(again.status).toBe(201);
    expect((await x.settled(again.body.id)).status).toBe('succeeded');
    await x.webhooksSettled(b.paymentIntentId);
    expect(await x.purchased(b.apiKey)).toMatchObject({ posted: 7000, available: 7000 });
  }
});

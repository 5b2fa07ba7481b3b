import { createHmac } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowIds } from '../../workflows/messages';
import { ADMIN_KEY, http, signUp, startTestApp, type TestApp } from '../support/app';
import { checkout } from '../support/checkout';
import { sleep, waitFor } from '../support/wait';
import { startTestWorker, type TestWorker, workflowBundle } from '../support/worker';
import { startWorkerProcess } from '../support/worker-process';

let app: TestApp;
let worker: TestWorker | null;
let api: ReturnType<typeof http>;

beforeAll(async () => {
  app = await startTestApp();
  worker = await startTestWorker(app);
  api = http(app.url);
});
afterAll(async () => {
  await worker?.stop();
  await app.close();
});
afterEach(() => app.standIn.faults.reset());

interface PurchaseBody {
  id: string;
  status: string;
  checkoutUrl: string;
  credits: number;
  refunds?: {
    reason: string;
    paymentIntentId: string;
    amountCents: number;
    refundedThroughCents: number;
    creditsDue: number;
    creditsReversed: number;
    creditsShortfall: number;
  }[];
}

async function buy(key: string, packageId = 'starter') {
  const res = await api.post<PurchaseBody>('/v1/purchases', { packageId }, key);
  expect(res.status).toBe(201);
  return res.body;
}

async function balance(key: string) {
  return (await api.get<{ available: number; posted: number }>('/v1/balance', key)).body;
}

async function purchase(key: string, id: string) {
  return (await api.get<PurchaseBody>(`/v1/purchases/${id}`, key)).body;
}

async function purchaseTransfers(userId: string) {
  return app.sql<{ amount: number }[]>`
    SELECT t.amount FROM transfers t JOIN accounts a ON a.id = t.credit_account_id
    WHERE a.user_id = ${userId} AND t.kind = 'purchase'`;
}

/** What the user's transfers say caused them, oldest first. */
async function causesOf(userId: string) {
  return app.sql<{ kind: string; cause_type: string; cause_id: string }[]>`
    SELECT t.kind, t.cause_type, t.cause_id FROM transfers t
    JOIN accounts a ON a.id IN (t.credit_account_id, t.debit_account_id)
    WHERE a.user_id = ${userId} ORDER BY t.id`;
}

/** Credits taken back from the user by refunds, oldest first. */
async function refundTransfers(userId: string) {
  return app.sql<{ amount: number }[]>`
    SELECT t.amount FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
    WHERE a.user_id = ${userId} AND t.kind = 'purchase_refund' ORDER BY t.id`;
}

async function sessionOf(purchaseId: string): Promise<string> {
  const [row] = await app.sql<{ checkout_session_id: string }[]>`
    SELECT checkout_session_id FROM purchases WHERE id = ${purchaseId}`;
  return row!.checkout_session_id;
}

test('when a user buys Starter and pays, then 4,500 credits appear, the purchase completes and a receipt is sent', async () => {
  const user = await signUp(api);
  const started = await buy(user.apiKey);
  expect(started).toMatchObject({ status: 'pending', credits: 4500 });
  expect(started.checkoutUrl).toContain('/checkout/');

  const paid = await checkout(started.checkoutUrl, 'pay', '4242424242424242');
  expect(paid.status).toBe(303);
  expect(paid.location).toContain(`/usercredits?purchase=${started.id}`);

  await waitFor('credits', async () => (await balance(user.apiKey)).available === 4500);
  await waitFor('completed', async () => (await purchase(user.apiKey, started.id)).status === 'completed');
  const receipts = await waitFor('receipt', async () => {
    const res = await api.get<{ data: { subject: string; recipient: string }[] }>(
      '/v1/receipts',
      user.apiKey,
    );
    return res.body.data.length > 0 ? res.body.data : null;
  });
  expect(receipts).toHaveLength(1);
  expect(receipts[0]).toMatchObject({ recipient: user.email, subject: 'Receipt: 4,500 credits' });
  const list = await api.get<{ data: PurchaseBody[] }>('/v1/purchases', user.apiKey);
  expect(list.body.data.map((p) => [p.id, p.status])).toEqual([[started.id, 'completed']]);
  expect(await causesOf(user.id)).toEqual([
    { kind: 'purchase', cause_type: 'purchase', cause_id: started.id },
  ]);
});

test('when the card is declined and the user pays again, then the purchase is credited once', async () => {
  const user = await signUp(api);
  const started = await buy(user.apiKey);
  const declined = await checkout(started.checkoutUrl, 'pay', '4000000000000002');
  expect(declined.status).toBe(402);
  expect(declined.html).toContain('declined');
  expect((await purchase(user.apiKey, started.id)).status).toBe('pending');
  expect((await checkout(started.checkoutUrl, 'pay')).status).toBe(303);
  await waitFor('completed', async () => (await purchase(user.apiKey, started.id)).status === 'completed');
  expect(await balance(user.apiKey)).toMatchObject({ available: 4500 });
});

test('when the user cancels on the checkout page, then they return to the credits page and nothing is credited', async () => {
  const user = await signUp(api);
  const started = await buy(user.apiKey);
  const cancelled = await checkout(started.checkoutUrl, 'cancel');
  expect(cancelled.status).toBe(303);
  expect(cancelled.location).toContain('cancelled=1');
  await sleep(500);
  expect((await purchase(user.apiKey, started.id)).status).toBe('pending');
  expect(await balance(user.apiKey)).toMatchObject({ available: 0 });
});

test('when the checkout session expires unpaid, then the purchase is expired and nothing is credited', async () => {
  const shortApp = await startTestApp({ purchases: { checkoutExpirySeconds: 2, pollIntervalSeconds: 1 } });
  const shortWorker = await startTestWorker(shortApp);
  try {
    const shortApi = http(shortApp.url);
    const user = await signUp(shortApi);
    const res = await shortApi.post<PurchaseBody>('/v1/purchases', { packageId: 'starter' }, user.apiKey);
    await waitFor(
      'expired',
      async () =>
        (await shortApi.get<PurchaseBody>(`/v1/purchases/${res.body.id}`, user.apiKey)).body.status ===
        'expired',
    );
    expect((await checkout(res.body.checkoutUrl, 'pay')).status).toBeGreaterThanOrEqual(400);
    expect((await shortApi.get<{ available: number }>('/v1/balance', user.apiKey)).body.available).toBe(0);
  } finally {
    await shortWorker.stop();
    await shortApp.close();
  }
});

test('when the webhook is lost, then polling Stripe still credits the purchase', async () => {
  const user = await signUp(api);
  const started = await buy(user.apiKey);
  app.standIn.faults.dropNext(1);
  await checkout(started.checkoutUrl, 'pay');
  await waitFor('credits by polling', async () => (await balance(user.apiKey)).available === 4500);
  expect(app.standIn.deliveries.filter((d) => d.attempt === 0)).not.toHaveLength(0); // it was dropped
  expect(await purchaseTransfers(user.id)).toHaveLength(1);
});

test('when one webhook is delivered 10 times and out of order with a late expiry, then it is credited once', async () => {
  const user = await signUp(api);
  const started = await buy(user.apiKey);
  app.standIn.faults.duplicate(10);
  app.standIn.faults.reorder(200);
  await checkout(started.checkoutUrl, 'pay');
  await waitFor('completed', async () => (await purchase(user.apiKey, started.id)).status === 'completed');
  const sessionId = await sessionOf(started.id);
  app.standIn.emit('checkout.session.expired', { ...app.standIn.session(sessionId), status: 'expired' });
  await app.standIn.idle();
  const completed = app.standIn.deliveries.filter(
    (d) => d.type === 'checkout.session.completed' && d.status === 200,
  );
  expect(completed.length).toBeGreaterThanOrEqual(10);
  expect(await purchaseTransfers(user.id)).toEqual([{ amount: 4500 }]);
  expect((await purchase(user.apiKey, started.id)).status).toBe('completed');
  expect(await balance(user.apiKey)).toMatchObject({ available: 4500 });
});

test('when a webhook has a forged signature, then it gets 400 and nothing changes', async () => {
  const user = await signUp(api);
  const started = await buy(user.apiKey);
  const sessionId = await sessionOf(started.id);
  const body = JSON.stringify({
    id: 'evt_forged_1',
    object: 'event',
    type: 'checkout.session.completed',
    data: {
      object: {
        id: sessionId,
        object: 'checkout.session',
        status: 'complete',
        payment_status: 'paid',
        payment_intent: 'pi_forged',
        metadata: { purchaseId: started.id },
      },
    },
  });
  const t = Math.floor(Date.now() / 1000);
  const forged = createHmac('sha256', 'whsec_not_the_secret').update(`${t}.${body}`).digest('hex');
  const secret = app.services.stripeWebhookSecret;
  const stale = createHmac('sha256', secret)
    .update(`${t - 600}.${body}`)
    .digest('hex');
  for (const signature of [`t=${t},v1=${forged}`, `t=${t - 600},v1=${stale}`, 'garbage', undefined]) {
    const res = await api.raw('POST', '/v1/webhooks/stripe', {
      raw: body,
      headers: signature ? { 'stripe-signature': signature } : {},
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'validation_error' } });
    expect(JSON.stringify(res.body)).toContain('Stripe-Signature');
  }
  await sleep(300);
  const [stored] = await app.sql`SELECT count(*)::int AS n FROM stripe_events WHERE id = 'evt_forged_1'`;
  expect(stored!.n).toBe(0);
  expect((await purchase(user.apiKey, started.id)).status).toBe('pending');
  expect(await balance(user.apiKey)).toMatchObject({ available: 0 });
});

test('when a credited purchase is charged a second time, then the duplicate is refunded and recorded', async () => {
  const user = await signUp(api);
  const started = await buy(user.apiKey);
  await checkout(started.checkoutUrl, 'pay');
  await waitFor('completed', async () => (await purchase(user.apiKey, started.id)).status === 'completed');
  const { paymentIntent } = app.standIn.simulateDuplicateCharge(await sessionOf(started.id));
  const refunded = await waitFor('refund recorded', async () => {
    const p = await purchase(user.apiKey, started.id);
    return p.refunds?.length ? p : null;
  });
  expect(refunded.refunds).toEqual([
    expect.objectContaining({ reason: 'duplicate_charge', paymentIntentId: paymentIntent.id }),
  ]);
  expect(refunded.status).toBe('completed');
  const refundEvents = app.standIn.events.filter((e) => e.type === 'charge.refunded');
  expect(refundEvents).toHaveLength(1);
  await app.standIn.idle();
  await sleep(300);
  expect(await balance(user.apiKey)).toMatchObject({ available: 4500 });
  expect(await purchaseTransfers(user.id)).toHaveLength(1);
});

/** A paid Starter purchase (4,500 credits for $50.00) and the payment intent that paid it. */
async function paidStarter(key: string) {
  const started = await buy(key);
  await checkout(started.checkoutUrl, 'pay');
  await waitFor('completed', async () => (await purchase(key, started.id)).status === 'completed');
  const [row] = await app.sql<{ payment_intent_id: string }[]>`
    SELECT payment_intent_id FROM purchases WHERE id = ${started.id}`;
  return { purchaseId: started.id, paymentIntentId: row!.payment_intent_id };
}

/** The purchase once its purchase refunds match `expected` (a step is recorded, then its credits taken). */
async function refundsSettled(
  key: string,
  purchaseId: string,
  expected: (refunds: PurchaseBody['refunds']) => boolean,
) {
  return waitFor('refunds recorded and settled', async () => {
    const p = await purchase(key, purchaseId);
    return expected(p.refunds?.filter((r) => r.reason === 'purchase_refunded')) ? p : null;
  });
}

test('when the credited payment is refunded in full in Stripe after some credits were spent, then what is left is taken back and the shortfall recorded', async () => {
  const user = await signUp(api);
  const { purchaseId, paymentIntentId } = await paidStarter(user.apiKey);
  await app.ledger.debit({
    idempotencyKey: `spend:${purchaseId}`,
    userId: user.id,
    amount: 1000,
    kind: 'usage:conversation',
  });
  expect(await balance(user.apiKey)).toMatchObject({ available: 3500 });

  await app.services.stripe.refunds.create({ payment_intent: paymentIntentId });
  const refunded = await refundsSettled(user.apiKey, purchaseId, (r) => r?.[0]?.creditsReversed === 3500);
  expect(refunded.status).toBe('refunded');
  expect(await balance(user.apiKey)).toMatchObject({ available: 0, posted: 0 });
  expect(refunded.refunds).toEqual([
    expect.objectContaining({
      reason: 'purchase_refunded',
      paymentIntentId,
      amountCents: 5000,
      refundedThroughCents: 5000,
      creditsDue: 4500,
      creditsReversed: 3500,
      creditsShortfall: 1000,
    }),
  ]);
  expect(await refundTransfers(user.id)).toEqual([{ amount: 3500 }]);
  const [refundRow] = await app.sql<{ id: string }[]>`
    SELECT id FROM purchase_refunds WHERE purchase_id = ${purchaseId}`;
  expect((await causesOf(user.id)).filter((c) => c.kind === 'purchase_refund')).toEqual([
    { kind: 'purchase_refund', cause_type: 'refund', cause_id: refundRow!.id },
  ]);
});

test('when a payment is refunded in two halves in Stripe, then each half takes back half the credits once, partially_refunded then refunded', async () => {
  const user = await signUp(api);
  const { purchaseId, paymentIntentId } = await paidStarter(user.apiKey);

  await app.services.stripe.refunds.create({ payment_intent: paymentIntentId, amount: 2500 });
  const half = await refundsSettled(user.apiKey, purchaseId, (r) => r?.[0]?.creditsReversed === 2250);
  expect(half.status).toBe('partially_refunded');
  expect(await balance(user.apiKey)).toMatchObject({ available: 2250 });
  expect(half.refunds).toEqual([
    expect.objectContaining({
      amountCents: 2500,
      refundedThroughCents: 2500,
      creditsDue: 2250,
      creditsReversed: 2250,
      creditsShortfall: 0,
    }),
  ]);

  // The first refund's event again, after the fact (a redelivery): nothing more is taken.
  const firstEvent = app.standIn.events.filter((e) => e.type === 'charge.refunded').at(-1)!;
  app.standIn.emit('charge.refunded', firstEvent.data.object);
  await app.standIn.idle();

  await app.services.stripe.refunds.create({ payment_intent: paymentIntentId, amount: 2500 });
  await refundsSettled(user.apiKey, purchaseId, (r) => r?.length === 2 && r[1]!.creditsReversed === 2250);

  // And the first (older, smaller) total arriving late, out of order: still nothing more.
  app.standIn.emit('charge.refunded', firstEvent.data.object);
  await app.standIn.idle();
  await sleep(500);
  const full = await purchase(user.apiKey, purchaseId);
  expect(full.status).toBe('refunded');
  expect(full.refunds).toEqual([
    expect.objectContaining({
      amountCents: 2500,
      refundedThroughCents: 2500,
      creditsDue: 2250,
      creditsReversed: 2250,
    }),
    expect.objectContaining({
      amountCents: 2500,
      refundedThroughCents: 5000,
      creditsDue: 2250,
      creditsReversed: 2250,
    }),
  ]);
  expect(await refundTransfers(user.id)).toEqual([{ amount: 2250 }, { amount: 2250 }]);
  expect(await balance(user.apiKey)).toMatchObject({ available: 0, posted: 0 });
});

test('when the worker is killed mid-saga and another starts, then the purchase is credited exactly once', async () => {
  await worker!.stop();
  worker = null;
  const doomed = await startWorkerProcess(app);
  const user = await signUp(api);
  const started = await buy(user.apiKey); // the checkout session was made by the doomed worker
  await doomed.kill();
  await checkout(started.checkoutUrl, 'pay'); // the webhook signals a workflow nobody runs now
  await sleep(1000);
  expect(await balance(user.apiKey)).toMatchObject({ available: 0 });
  worker = await startTestWorker(app);
  await waitFor(
    'completed',
    async () => (await purchase(user.apiKey, started.id)).status === 'completed',
    40_000,
  );
  expect(await purchaseTransfers(user.id)).toEqual([{ amount: 4500 }]);
  expect(await balance(user.apiKey)).toMatchObject({ available: 4500 });
});

test('when POST /v1/purchases gets a bad or unknown package, or someone else reads a purchase, then 4xx', async () => {
  const user = await signUp(api);
  const other = await signUp(api);
  expect((await api.post('/v1/purchases', { packageId: 'nope' }, user.apiKey)).status).toBe(404);
  expect((await api.post('/v1/purchases', { packageId: 7 }, user.apiKey)).status).toBe(400);
  expect((await api.post('/v1/purchases', {}, user.apiKey)).status).toBe(400);
  expect((await api.post('/v1/purchases', { packageId: 'starter' })).status).toBe(401);
  expect((await api.post('/v1/purchases', { packageId: 'starter' }, ADMIN_KEY)).status).toBe(401);
  const mine = await buy(user.apiKey);
  expect((await api.get(`/v1/purchases/${mine.id}`, other.apiKey)).status).toBe(404);
  expect((await api.get('/v1/purchases/not-a-uuid', user.apiKey)).status).toBe(400);
});

test('when POST /v1/purchases is retried with the same Idempotency-Key, then it is the same purchase', async () => {
  const user = await signUp(api);
  const headers = { 'idempotency-key': 'buy-once-1' };
  const first = await api.post<PurchaseBody>('/v1/purchases', { packageId: 'starter' }, user.apiKey, headers);
  const second = await api.post<PurchaseBody>(
    '/v1/purchases',
    { packageId: 'starter' },
    user.apiKey,
    headers,
  );
  expect(first.status).toBe(201);
  expect(second.status).toBe(200);
  expect(second.body.id).toBe(first.body.id);
  expect(second.body.checkoutUrl).toBe(first.body.checkoutUrl);
});

test('when a paid purchase history is replayed, then the purchase workflow code is deterministic', async () => {
  const fixture = path.join(__dirname, '../workflows/histories/purchase-paid.json');
  const user = await signUp(api);
  const started = await buy(user.apiKey);
  await checkout(started.checkoutUrl, 'pay');
  await waitFor('completed', async () => (await purchase(user.apiKey, started.id)).status === 'completed');
  const workflowId = workflowIds.purchase(started.id);
  const handle = app.temporal.workflow.getHandle(workflowId);
  await handle.result();
  const history = await handle.fetchHistory();
  const bundle = { workflowBundle: { codePath: await workflowBundle() } };
  await Worker.runReplayHistory(bundle, history, workflowId);
  if (process.env.UPDATE_HISTORIES) await writeFile(fixture, historyToJSON(history));
  const saved = historyFromJSON(JSON.parse(await readFile(fixture, 'utf8')));
  await Worker.runReplayHistory(bundle, saved, 'purchase-fixture');
});

test('when an Idempotency-Key is reused for another package, then 409 and no second purchase', async () => {
  const user = await signUp(api);
  const headers = { 'idempotency-key': 'buy-once-2' };
  const first = await api.post<PurchaseBody>('/v1/purchases', { packageId: 'starter' }, user.apiKey, headers);
  expect(first.status).toBe(201);
  const other = await api.post('/v1/purchases', { packageId: 'professional' }, user.apiKey, headers);
  expect(other.status).toBe(409);
  expect(other.body).toMatchObject({ error: { code: 'idempotency_conflict' } });
  const list = await api.get<{ data: PurchaseBody[] }>('/v1/purchases', user.apiKey);
  expect(list.body.data.map((p) => p.id)).toEqual([first.body.id]);
});

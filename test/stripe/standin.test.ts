import Stripe from 'stripe';
import { type StripeStandIn, startStripeStandIn } from '../../dev/stripe';
import { parseForm } from '../../dev/stripe/form';
import { type StandInSetup, settleStandIn, startStandInSetup, stopStandInSetup } from './stand-in-setup';
import type { WebhookReceiver } from './webhook-receiver';

/**
 * The Stripe stand-in (DESIGN.md §8) driven by the real `stripe` SDK, its checkout page driven by
 * plain form posts, and its webhooks verified by `stripe.webhooks.constructEvent`.
 */

const WEBHOOK_SECRET = 'whsec_standin_test';
const SUCCESS_URL = 'https://app.example/credits/success?session={CHECKOUT_SESSION_ID}';
const CANCEL_URL = 'https://app.example/credits/cancelled';

let setup: StandInSetup;
let standIn: StripeStandIn;
let receiver: WebhookReceiver;
let stripe: Stripe;

beforeAll(async () => {
  setup = await startStandInSetup(WEBHOOK_SECRET);
  ({ standIn, receiver, stripe } = setup);
});
afterEach(() => settleStandIn(setup));
afterAll(() => stopStandInSetup(setup ?? {}));

const sessionParams = (overrides: Partial<Stripe.Checkout.SessionCreateParams> = {}) =>
  ({
    mode: 'payment',
    line_items: [
      {
        price_data: { currency: 'usd', unit_amount: 1250, product_data: { name: '1,000 credits' } },
        quantity: 2,
      },
    ],
    success_url: SUCCESS_URL,
    cancel_url: CANCEL_URL,
    metadata: { purchaseId: `pur_${Math.random().toString(36).slice(2)}`, userId: 'user_1' },
    client_reference_id: 'user_1',
    customer_email: 'buyer@example.com',
    payment_intent_data: { metadata: { purchaseId: 'pi-meta' } },
    ...overrides,
  }) satisfies Stripe.Checkout.SessionCreateParams;

const createSession = (overrides: Partial<Stripe.Checkout.SessionCreateParams> = {}) =>
  stripe.checkout.sessions.create(sessionParams(overrides));

/** What a browser does when a checkout page button is pressed. */
const press = (url: string, fields: Record<string, string>) =>
  fetch(url, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });

const ofType = (type: string) => receiver.received.filter((r) => r.event.type === type);

/** The verified deliveries of `type`, once at least `count` have arrived. */
const received = async (type: string, count: number, timeoutMs?: number) => {
  await receiver.waitFor(() => ofType(type).length >= count, timeoutMs);
  return ofType(type);
};

describe('checkout sessions through the real SDK', () => {
  test('when a session is created, then it is open, unpaid, priced and points at the hosted page', async () => {
    const session = await createSession();

    expect(session).toMatchObject({
      object: 'checkout.session',
      livemode: false,
      status: 'open',
      payment_status: 'unpaid',
      amount_total: 2500,
      currency: 'usd',
      client_reference_id: 'user_1',
      customer_email: 'buyer@example.com',
      payment_intent: null,
      success_url: SUCCESS_URL,
      cancel_url: CANCEL_URL,
      url: `${standIn.url}/checkout/${session.id}`,
    });
    expect(session.id).toMatch(/^cs_test_/);
    expect(session.lastResponse.requestId).toMatch(/^req_/);
    const now = Math.floor(Date.now() / 1000);
    expect(session.expires_at).toBeGreaterThan(now + 23 * 3600);

    const again = await stripe.checkout.sessions.retrieve(session.id);
    expect(again.id).toBe(session.id);
    expect(again.metadata).toEqual(session.metadata);
  });

  test('when the same idempotency key is reused, then the same params replay and different params are refused', async () => {
    const key = `purchase-${Date.now()}`;
    const params = sessionParams();
    const first = await stripe.checkout.sessions.create(params, { idempotencyKey: key });
    const replay = await stripe.checkout.sessions.create(params, { idempotencyKey: key });

    expect(replay.id).toBe(first.id);
    expect(replay.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();

    const conflict = stripe.checkout.sessions.create(sessionParams({ client_reference_id: 'user_2' }), {
      idempotencyKey: key,
    });
    await expect(conflict).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    const listed = await stripe.checkout.sessions.list({ limit: 100 });
    expect(listed.data.filter((s) => s.id === first.id)).toHaveLength(1);
  });

  test('when a parameter is unknown, missing or invalid, then Stripe-shaped 400s name it', async () => {
    const unknown = stripe.checkout.sessions.create({ ...sessionParams(), locale_typo: 'en' } as never);
    await expect(unknown).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
      param: 'locale_typo',
    });
    const noCurrency = stripe.checkout.sessions.create(
      sessionParams({
        line_items: [{ price_data: { unit_amount: 100, product_data: { name: 'x' } }, quantity: 1 }],
      } as never),
    );
    await expect(noCurrency).rejects.toMatchObject({
      message: 'Missing required param: line_items[0][price_data][currency].',
      param: 'line_items[0][price_data][currency]',
    });
    const past = createSession({ expires_at: Math.floor(Date.now() / 1000) - 5 });
    await expect(past).rejects.toMatchObject({ param: 'expires_at', statusCode: 400 });
    const missing = stripe.checkout.sessions.retrieve('cs_test_missing');
    await expect(missing).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  test('when the API key is missing or not a test key, then the answer is 401', async () => {
    const live = new Stripe('sk_live_nope', { host: standIn.host, port: standIn.port, protocol: 'http' });
    await expect(live.events.list()).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);

    const bare = await fetch(`${standIn.url}/v1/events`);
    expect(bare.status).toBe(401);
    expect(bare.headers.get('request-id')).toMatch(/^req_/);
    expect(await bare.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
  });

  test("when a request carries a test key other than the stand-in's own, then it is refused with 401 and nothing is created", async () => {
    const other = new Stripe('sk_test_someone_else_0123456789', {
      host: standIn.host,
      port: standIn.port,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
    const before = standIn.events.length;
    const refused = other.checkout.sessions.create(sessionParams());
    await expect(refused).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    await expect(refused).rejects.toMatchObject({ statusCode: 401, type: 'StripeAuthenticationError' });
    // The raw answer is Stripe's error shape, with the key redacted.
    const raw = await fetch(`${standIn.url}/v1/events`, {
      headers: { authorization: 'Bearer sk_test_someone_else_0123456789' },
    });
    expect(raw.status).toBe(401);
    expect(await raw.json()).toEqual({
      error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****6789' },
    });
    // A key that only starts like the right one is another key too.
    const prefixed = await fetch(`${standIn.url}/v1/events`, {
      headers: { authorization: `Bearer ${standIn.secretKey}x` },
    });
    expect(prefixed.status).toBe(401);
    expect(standIn.events.length).toBe(before);
    // The stand-in's own key still works.
    expect((await stripe.events.list({ limit: 1 })).object).toBe('list');
  });
});

describe('hosted checkout page', () => {
  test('when the page is opened, then it shows the product, the amount and the three forms', async () => {
    const session = await createSession();
    const page = await fetch(session.url!);
    const html = await page.text();

    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(html).toContain('1,000 credits');
    expect(html).toContain('$25.00');
    for (const action of ['pay', 'decline', 'cancel']) {
      expect(html).toContain(`name="action" value="${action}"`);
      expect(html).toMatch(new RegExp(`id="${action}">${action[0]!.toUpperCase()}${action.slice(1)}<`));
    }
    expect(html.match(new RegExp(`method="POST" action="${session.url}"`, 'g'))).toHaveLength(3);
    expect(html).toContain('name="card" value="4242424242424242"');
  });

  test('when Pay is pressed, then it redirects to the success URL and a signed completed webhook arrives', async () => {
    const session = await createSession();

    const response = await press(session.url!, { action: 'pay', card: '4242424242424242' });

    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(
      `https://app.example/credits/success?session=${session.id}`,
    );
    const [completed] = await received('checkout.session.completed', 1);
    expect(completed!.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const event = completed!.event;
    expect(event).toMatchObject({ object: 'event', livemode: false, pending_webhooks: 1 });
    expect(event.id).toMatch(/^evt_/);
    const paid = event.data.object as Stripe.Checkout.Session;
    expect(paid).toMatchObject({ id: session.id, status: 'complete', payment_status: 'paid' });
    expect(paid.metadata).toEqual(session.metadata);
    expect(paid.payment_intent).toMatch(/^pi_/);

    const retrieved = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    expect(retrieved.status).toBe('complete');
    const paymentIntent = retrieved.payment_intent as Stripe.PaymentIntent;
    expect(paymentIntent).toMatchObject({ id: paid.payment_intent, status: 'succeeded', amount: 2500 });
    expect(paymentIntent.metadata.purchaseId).toBe('pi-meta');
    const direct = await stripe.paymentIntents.retrieve(paymentIntent.id);
    expect(direct.status).toBe('succeeded');

    const fetchedEvent = await stripe.events.retrieve(event.id);
    expect(fetchedEvent.type).toBe('checkout.session.completed');
    const again = await press(`${standIn.url}/checkout/${session.id}`, { action: 'pay' });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('already paid');
  });

  test('when the card is declined, then the page says so, the session stays open, and paying again works', async () => {
    const session = await createSession();

    const declined = await press(session.url!, { action: 'decline' });
    expect(declined.status).toBe(402);
    const html = await declined.text();
    expect(html).toContain('Your card was declined.');
    expect(html).toContain('id="pay"');
    const declinedCard = await press(session.url!, { action: 'pay', card: '4000000000000002' });
    expect(declinedCard.status).toBe(402);
    expect(await declinedCard.text()).toContain('Your card was declined.');
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');

    const paid = await press(session.url!, { action: 'pay', card: '4242424242424242' });
    expect(paid.status).toBe(303);
    await standIn.idle();
    expect(ofType('checkout.session.completed')).toHaveLength(1);
  });

  test('when Cancel is pressed, then it redirects to the cancel URL and the session stays open', async () => {
    const session = await createSession();

    const response = await press(session.url!, { action: 'cancel' });

    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(CANCEL_URL);
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
    await standIn.idle();
    expect(receiver.received).toEqual([]);
  });
});

describe('expiry', () => {
  test('when a session is expired through the API, then it emits checkout.session.expired and cannot be paid', async () => {
    const session = await createSession();

    const expired = await stripe.checkout.sessions.expire(session.id);

    expect(expired).toMatchObject({ status: 'expired', url: null });
    const [event] = await received('checkout.session.expired', 1);
    expect((event!.event.data.object as Stripe.Checkout.Session).id).toBe(session.id);
    const pay = await press(session.url!, { action: 'pay' });
    expect(pay.status).toBe(410);
    await expect(stripe.checkout.sessions.expire(session.id)).rejects.toMatchObject({ statusCode: 400 });
  });

  test('when expires_at passes while open, then the session expires by itself', async () => {
    const session = await createSession({ expires_at: Math.floor(Date.now() / 1000) + 2 });

    const [event] = await received('checkout.session.expired', 1, 4000);

    expect((event!.event.data.object as Stripe.Checkout.Session).id).toBe(session.id);
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('expired');
  });
});

describe('refunds', () => {
  test('when a payment is refunded, then the refund succeeds once per key and charge.refunded carries the metadata', async () => {
    const session = await createSession();
    expect(standIn.paySession(session.id).ok).toBe(true);
    const paymentIntentId = standIn.session(session.id).payment_intent!;

    const key = `refund-${session.id}`;
    const refund = await stripe.refunds.create(
      {
        payment_intent: paymentIntentId,
        amount: 1000,
        reason: 'requested_by_customer',
        metadata: { why: 'test' },
      },
      { idempotencyKey: key },
    );
    const replay = await stripe.refunds.create(
      {
        payment_intent: paymentIntentId,
        amount: 1000,
        reason: 'requested_by_customer',
        metadata: { why: 'test' },
      },
      { idempotencyKey: key },
    );

    expect(refund).toMatchObject({
      object: 'refund',
      amount: 1000,
      payment_intent: paymentIntentId,
      status: 'succeeded',
      metadata: { why: 'test' },
    });
    expect(replay.id).toBe(refund.id);
    expect((await stripe.refunds.retrieve(refund.id)).amount).toBe(1000);
    const [refunded] = await received('charge.refunded', 1);
    const charge = refunded!.event.data.object as Stripe.Charge;
    expect(charge).toMatchObject({ payment_intent: paymentIntentId, amount_refunded: 1000, refunded: false });
    // Session metadata is copied onto the charge; payment_intent_data.metadata wins a clash.
    expect(charge.metadata).toEqual({ purchaseId: 'pi-meta', userId: 'user_1' });

    const tooMuch = stripe.refunds.create({ payment_intent: paymentIntentId, amount: 1501 });
    await expect(tooMuch).rejects.toMatchObject({ statusCode: 400, param: 'amount' });
    const rest = await stripe.refunds.create({ payment_intent: paymentIntentId });
    expect(rest.amount).toBe(1500);
    await received('charge.refunded', 2);
    expect((ofType('charge.refunded')[1]!.event.data.object as Stripe.Charge).refunded).toBe(true);
  });

  test('when a paid session is charged twice, then the second completed event carries a new, refundable payment intent', async () => {
    const session = await createSession();
    const first = standIn.paySession(session.id);
    if (!first.ok) throw new Error(first.message);

    const { paymentIntent } = standIn.simulateDuplicateCharge(session.id);

    const completed = await received('checkout.session.completed', 2);
    const intents = completed.map((r) => (r.event.data.object as Stripe.Checkout.Session).payment_intent);
    expect(intents).toEqual([first.paymentIntent.id, paymentIntent.id]);
    expect(paymentIntent.id).not.toBe(first.paymentIntent.id);
    const refund = await stripe.refunds.create({ payment_intent: paymentIntent.id, reason: 'duplicate' });
    expect(refund.amount).toBe(2500);
  });
});

describe('webhook delivery', () => {
  test('when the endpoint answers 500, then delivery is retried with backoff until it succeeds', async () => {
    receiver.failNext(2, 500);

    const event = standIn.emit('test.retry', { id: 'obj_1' });

    await receiver.waitFor((r) => r.length === 1);
    await standIn.idle();
    const attempts = standIn.deliveries.filter((d) => d.eventId === event.id);
    expect(attempts.map((d) => [d.attempt, d.status])).toEqual([
      [1, 500],
      [2, 500],
      [3, 200],
    ]);
    // Backoff doubles from retryBaseMs (50): ≥ 50 ms before attempt 2, ≥ 100 ms before attempt 3
    // (less a millisecond of timer rounding).
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(49);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(99);
  });

  test('when the endpoint never answers 2xx, then delivery stops after maxDeliveryAttempts', async () => {
    const local = await startStripeStandIn({
      webhookSecret: WEBHOOK_SECRET,
      webhookUrl: receiver.url,
      retryBaseMs: 5,
      maxDeliveryAttempts: 3,
    });
    try {
      receiver.failNext(10, 503);
      const event = local.emit('test.give_up', {});
      await local.idle();
      expect(local.deliveries.filter((d) => d.eventId === event.id).map((d) => d.status)).toEqual([
        503, 503, 503,
      ]);
    } finally {
      await local.stop();
    }
  });

  test('when dropNext is set, then those events are lost to the webhook but still listed by the API', async () => {
    standIn.faults.dropNext(1);

    const lost = standIn.emit('test.drop', { n: 1 });
    const kept = standIn.emit('test.drop', { n: 2 });

    await standIn.idle();
    expect(receiver.received.map((r) => r.event.id)).toEqual([kept.id]);
    expect(standIn.deliveries.find((d) => d.eventId === lost.id)).toMatchObject({ attempt: 0 });
    const listed = await stripe.events.list({ type: 'test.drop', limit: 2 });
    expect(listed.data.map((e) => e.id)).toEqual([kept.id, lost.id]);
  });

  test('when duplicate(2) is set, then each event arrives twice with the same id', async () => {
    standIn.faults.duplicate(2);

    const event = standIn.emit('test.duplicate', {});

    await standIn.idle();
    expect(receiver.received.map((r) => r.event.id)).toEqual([event.id, event.id]);
  });

  test('when reorder is set, then a window of events arrives newest first', async () => {
    standIn.faults.reorder(100);

    const emitted = ['a', 'b', 'c'].map((n) => standIn.emit('test.reorder', { n }));

    await standIn.idle();
    expect(receiver.received.map((r) => r.event.id)).toEqual(emitted.map((e) => e.id).reverse());
  });

  test('when delayMs is set, then nothing arrives before the delay', async () => {
    standIn.faults.delayMs = 200;

    standIn.emit('test.delay', {});

    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(receiver.received).toEqual([]);
    await standIn.idle();
    expect(receiver.received).toHaveLength(1);
  });

  test('when an event is redelivered, then it arrives again with a fresh valid signature', async () => {
    const event = standIn.emit('test.redeliver', {});
    await standIn.idle();

    standIn.redeliver(event.id);

    await standIn.idle();
    expect(receiver.received.map((r) => r.event.id)).toEqual([event.id, event.id]);
  });

  test('when the endpoint cannot be reached, then the error is recorded and retried', async () => {
    standIn.setWebhookUrl('http://127.0.0.1:9/unreachable');
    try {
      const local = standIn.emit('test.unreachable', {});
      while (!standIn.deliveries.some((d) => d.eventId === local.id)) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      standIn.setWebhookUrl(receiver.url);
      await receiver.waitFor((r) => r.some((x) => x.event.id === local.id));
      const attempts = standIn.deliveries.filter((d) => d.eventId === local.id);
      expect(attempts[0]!.error).toBeDefined();
      expect(attempts.at(-1)!.status).toBe(200);
    } finally {
      standIn.setWebhookUrl(receiver.url);
    }
  });
});

describe('events API', () => {
  test('when events are listed, then they come newest first, filtered by type and limited', async () => {
    const a = standIn.emit('test.list', { n: 1 });
    const b = standIn.emit('test.list', { n: 2 });
    standIn.emit('test.other', {});

    const page = await stripe.events.list({ type: 'test.list', limit: 1 });
    expect(page.data.map((e) => e.id)).toEqual([b.id]);
    expect(page.has_more).toBe(true);
    const next = await stripe.events.list({ type: 'test.list', limit: 1, starting_after: b.id });
    expect(next.data.map((e) => e.id)).toEqual([a.id]);
    const wildcard = await stripe.events.list({ type: 'test.*', limit: 3 });
    expect(wildcard.data.map((e) => e.type)).toEqual(['test.other', 'test.list', 'test.list']);
  });
});

describe('form encoding', () => {
  test('when bracket notation is parsed, then nested objects, indexed and appended lists come out', () => {
    const parsed = parseForm(
      'line_items[0][price_data][currency]=usd&line_items[0][quantity]=2&metadata[purchaseId]=p%201' +
        '&expand[]=a&expand[]=b&success_url=https%3A%2F%2Fx%2F%3Fa%3D1',
    );
    expect(parsed).toEqual({
      line_items: { '0': { price_data: { currency: 'usd' }, quantity: '2' } },
      metadata: { purchaseId: 'p 1' },
      expand: ['a', 'b'],
      success_url: 'https://x/?a=1',
    });
    expect(() => parseForm('a=1&a[b]=2')).toThrow();
    expect(() => parseForm('__proto__[x]=1')).toThrow();
  });
});

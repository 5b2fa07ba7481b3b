import Stripe from 'stripe';
import { cardFingerprint, type StripeStandIn } from '../../dev/stripe';
import { type StandInSetup, settleStandIn, startStandInSetup, stopStandInSetup } from './stand-in-setup';
import type { WebhookReceiver } from './webhook-receiver';

/**
 * The stand-in's Customers, saved cards, off-session payment intents and Billing Portal
 * (DESIGN.md §13), driven by the real `stripe` SDK; the checkout and portal pages by plain HTTP.
 */

const WEBHOOK_SECRET = 'whsec_saved_cards_test';
const PAYS = '4242424242424242';
const DECLINES = '4000000000000002';
const NEEDS_AUTHENTICATION = '4000002500003155';

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

/** A Customer whose card (`card`) was saved by paying a Checkout Session with consent. */
async function customerWithSavedCard(card: string) {
  const customer = await stripe.customers.create({ email: 'saver@example.com', metadata: { userId: 'u1' } });
  const session = await stripe.checkout.sessions.create({
    mode: 'payment',
    customer: customer.id,
    line_items: [
      { quantity: 1, price_data: { currency: 'usd', unit_amount: 5000, product_data: { name: 'Starter' } } },
    ],
    success_url: 'https://app.example/ok',
    payment_intent_data: { setup_future_usage: 'off_session', metadata: { purchaseId: 'p1' } },
  });
  const paid = await fetch(session.url!, {
    method: 'POST',
    body: new URLSearchParams({ action: 'pay', card }),
    redirect: 'manual',
  });
  expect(paid.status).toBe(303);
  const completed = await stripe.checkout.sessions.retrieve(session.id);
  const intent = await stripe.paymentIntents.retrieve(completed.payment_intent as string);
  return { customer, session: completed, intent, paymentMethodId: intent.payment_method as string };
}

const offSession = (customer: string, paymentMethod: string, key: string, amount = 5000) =>
  stripe.paymentIntents.create(
    {
      amount,
      currency: 'usd',
      customer,
      payment_method: paymentMethod,
      off_session: true,
      confirm: true,
      metadata: { purchaseId: key },
    },
    { idempotencyKey: key },
  );

const eventsFor = (paymentIntentId: string) =>
  receiver.received
    .filter((r) => (r.event.data.object as { id?: string }).id === paymentIntentId)
    .map((r) => r.event.type);

describe('customers and saved cards', () => {
  test('when a Checkout Session with a customer and setup_future_usage is paid, then the card is attached to the customer', async () => {
    const { customer, session, intent, paymentMethodId } = await customerWithSavedCard(PAYS);
    expect(session.customer).toBe(customer.id);
    expect(intent).toMatchObject({
      customer: customer.id,
      setup_future_usage: 'off_session',
      status: 'succeeded',
    });
    expect(paymentMethodId).toMatch(/^pm_/);
    const method = await stripe.paymentMethods.retrieve(paymentMethodId);
    expect(method).toMatchObject({
      customer: customer.id,
      type: 'card',
      card: { brand: 'visa', last4: '4242', fingerprint: cardFingerprint(PAYS) },
    });
    const listed = await stripe.paymentMethods.list({ customer: customer.id, type: 'card' });
    expect(listed.data.map((m) => m.id)).toEqual([paymentMethodId]);
    expect((await stripe.customers.listPaymentMethods(customer.id)).data.map((m) => m.id)).toEqual([
      paymentMethodId,
    ]);
    expect(await stripe.customers.retrieve(customer.id)).toMatchObject({
      id: customer.id,
      email: 'saver@example.com',
      metadata: { userId: 'u1' },
    });
  });

  test('when a session pays without setup_future_usage, then nothing is attached', async () => {
    const customer = await stripe.customers.create({ email: 'once@example.com' });
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      customer: customer.id,
      line_items: [
        { quantity: 1, price_data: { currency: 'usd', unit_amount: 100, product_data: { name: 'x' } } },
      ],
      success_url: 'https://app.example/ok',
    });
    standIn.paySession(session.id);
    expect((await stripe.paymentMethods.list({ customer: customer.id })).data).toEqual([]);
  });

  test('when a session names both customer and customer_email or an unknown customer, then 400', async () => {
    const base = {
      mode: 'payment' as const,
      line_items: [
        { quantity: 1, price_data: { currency: 'usd', unit_amount: 100, product_data: { name: 'x' } } },
      ],
      success_url: 'https://app.example/ok',
    };
    const customer = await stripe.customers.create({});
    await expect(
      stripe.checkout.sessions.create({ ...base, customer: customer.id, customer_email: 'a@example.com' }),
    ).rejects.toMatchObject({ statusCode: 400 });
    await expect(stripe.checkout.sessions.create({ ...base, customer: 'cus_nope' })).rejects.toMatchObject({
      statusCode: 400,
      code: 'resource_missing',
    });
    await expect(stripe.customers.retrieve('cus_nope')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('off-session payment intents', () => {
  test('when a saved 4242 card is charged off-session, then it succeeds once per idempotency key with payment_intent.succeeded', async () => {
    const { customer, paymentMethodId } = await customerWithSavedCard(PAYS);
    const first = await offSession(customer.id, paymentMethodId, 'auto-1');
    const again = await offSession(customer.id, paymentMethodId, 'auto-1');
    expect(first).toMatchObject({
      status: 'succeeded',
      amount_received: 5000,
      customer: customer.id,
      payment_method: paymentMethodId,
      metadata: { purchaseId: 'auto-1' },
    });
    expect(again.id).toBe(first.id);
    const charge = await stripe.charges.retrieve(first.latest_charge as string);
    expect(charge).toMatchObject({ amount: 5000, paid: true, payment_intent: first.id });
    expect(charge.receipt_url).toMatch(/\/receipts\/ch_/);
    await receiver.waitFor(() => eventsFor(first.id).includes('payment_intent.succeeded'));
    expect(eventsFor(first.id)).toEqual(['payment_intent.succeeded']);
    const listed = await stripe.paymentIntents.list({ customer: customer.id });
    expect(listed.data.map((pi) => pi.id)).toContain(first.id);
  });

  test('when a saved card declines off-session, then a card_declined StripeCardError carries the intent, replayed for the same key', async () => {
    const { customer } = await customerWithSavedCard(PAYS);
    const method = await stripe.paymentMethods.create({
      type: 'card',
      card: { number: DECLINES, exp_month: 12, exp_year: 2040, cvc: '123' },
    });
    await stripe.paymentMethods.attach(method.id, { customer: customer.id });
    const error = await offSession(customer.id, method.id, 'auto-declined').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    const cardError = error as Stripe.errors.StripeCardError;
    expect(cardError).toMatchObject({
      statusCode: 402,
      code: 'card_declined',
      decline_code: 'generic_decline',
    });
    const intent = cardError.payment_intent!;
    expect(intent).toMatchObject({
      status: 'requires_payment_method',
      latest_charge: null,
      last_payment_error: { code: 'card_declined' },
    });
    const replay = (await offSession(customer.id, method.id, 'auto-declined').catch(
      (e: unknown) => e,
    )) as Stripe.errors.StripeCardError;
    expect(replay.payment_intent?.id).toBe(intent.id);
    await receiver.waitFor(() => eventsFor(intent.id).length > 0);
    expect(eventsFor(intent.id)).toEqual(['payment_intent.payment_failed']);
  });

  test('when a card that needs authentication is charged off-session, then authentication_required and status requires_action', async () => {
    const { customer, paymentMethodId } = await customerWithSavedCard(NEEDS_AUTHENTICATION);
    const error = (await offSession(customer.id, paymentMethodId, 'auto-3ds').catch(
      (e: unknown) => e,
    )) as Stripe.errors.StripeCardError;
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error.code).toBe('authentication_required');
    expect(error.payment_intent).toMatchObject({
      status: 'requires_action',
      last_payment_error: { code: 'authentication_required' },
    });
    expect(standIn.paymentIntent(error.payment_intent!.id).status).toBe('requires_action');
    await receiver.waitFor(() => eventsFor(error.payment_intent!.id).length > 0);
    expect(eventsFor(error.payment_intent!.id)).toEqual(['payment_intent.payment_failed']);

    // The other 3-D Secure test card behaves the same.
    const other = await stripe.paymentMethods.create({
      type: 'card',
      card: { number: '4000000000003155', exp_month: 1, exp_year: 2041 },
    });
    await stripe.paymentMethods.attach(other.id, { customer: customer.id });
    await expect(offSession(customer.id, other.id, 'auto-3ds-2')).rejects.toMatchObject({
      code: 'authentication_required',
    });
  });

  test("when the payment method is someone else's or missing, then 400 and nothing is charged", async () => {
    const a = await customerWithSavedCard(PAYS);
    const b = await stripe.customers.create({});
    await expect(offSession(b.id, a.paymentMethodId, 'auto-theft')).rejects.toMatchObject({
      statusCode: 400,
    });
    await expect(offSession(b.id, 'pm_nope', 'auto-missing')).rejects.toMatchObject({
      statusCode: 400,
      code: 'resource_missing',
    });
    const other = await stripe.customers.create({});
    await expect(
      stripe.paymentMethods.attach(a.paymentMethodId, { customer: other.id }),
    ).rejects.toMatchObject({
      statusCode: 400,
    });
  });
});

describe('billing portal', () => {
  test('when a portal session is made, then its page lists the saved card and every payment with its receipt', async () => {
    const { customer, intent } = await customerWithSavedCard(PAYS);
    const later = await offSession(customer.id, intent.payment_method as string, 'auto-portal', 12_345);
    const portal = await stripe.billingPortal.sessions.create({
      customer: customer.id,
      return_url: 'https://app.example/usercredits',
    });
    expect(portal).toMatchObject({ object: 'billing_portal.session', customer: customer.id });
    const page = await fetch(portal.url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`data-payment-intent="${intent.id}"`);
    expect(html).toContain(`data-payment-intent="${later.id}"`);
    expect(html).toContain('$50.00');
    expect(html).toContain('$123.45');
    expect(html).toContain('visa •••• 4242');
    expect(html).toContain('href="https://app.example/usercredits"');
    const receiptLink = /class="receipt" href="([^"]+)"/.exec(html)![1]!;
    const receipt = await fetch(receiptLink);
    expect(receipt.status).toBe(200);
    expect(await receipt.text()).toContain('Receipt');
  });

  test('when the portal link is unknown or the customer missing, then 404 page and 400', async () => {
    expect((await fetch(`${standIn.url}/billing/portal/nope`)).status).toBe(404);
    await expect(stripe.billingPortal.sessions.create({ customer: 'cus_nope' })).rejects.toMatchObject({
      statusCode: 400,
    });
  });
});

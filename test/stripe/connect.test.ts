import Stripe from 'stripe';
import { cardFingerprint, type StripeStandIn, startStripeStandIn } from '../../dev/stripe';
import {
  type StandInSetup,
  sdkFor,
  settleStandIn,
  startStandInSetup,
  stopStandInSetup,
} from './stand-in-setup';
import type { WebhookReceiver } from './webhook-receiver';

/**
 * The stand-in's Connect payouts (DESIGN.md §11: Express accounts, onboarding links and page,
 * transfers and their faults) and its card fingerprints, driven by the real `stripe` SDK, the
 * onboarding and checkout pages by plain form posts, webhooks verified by constructEvent.
 */

const WEBHOOK_SECRET = 'whsec_connect_test';
const RETURN_URL = 'https://app.example/payouts/return';
const REFRESH_URL = 'https://app.example/payouts/refresh';

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

/** What a browser does when a page's form is submitted. */
const press = (url: string, fields: Record<string, string>) =>
  fetch(url, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });

const ofType = (type: string) => receiver.received.filter((r) => r.event.type === type);

const createAccount = (email = `creator-${Math.random().toString(36).slice(2)}@example.com`) =>
  stripe.accounts.create({ type: 'express', email, country: 'US', metadata: { userId: 'user_1' } });

const onboardingLink = (account: string) =>
  stripe.accountLinks.create({
    account,
    type: 'account_onboarding',
    refresh_url: REFRESH_URL,
    return_url: RETURN_URL,
  });

const onboardedAccount = async () => {
  const account = await createAccount();
  standIn.completeOnboarding(account.id);
  return account;
};

const transferParams = (destination: string, overrides: Partial<Stripe.TransferCreateParams> = {}) =>
  ({
    amount: 1500,
    currency: 'usd',
    destination,
    metadata: { withdrawalId: 'wd_1' },
    transfer_group: 'wd_1',
    description: 'Withdrawal of 1,500 credits',
    ...overrides,
  }) satisfies Stripe.TransferCreateParams;

/** Pays a new checkout session through the hosted page with `card`; returns its payment intent id. */
const payWithCard = async (target: StripeStandIn, card: string) => {
  const session = await sdkFor(target).checkout.sessions.create({
    mode: 'payment',
    line_items: [
      {
        price_data: { currency: 'usd', unit_amount: 500, product_data: { name: '500 credits' } },
        quantity: 1,
      },
    ],
    success_url: 'https://app.example/success',
  });
  const paid = await press(session.url!, { action: 'pay', card });
  expect(paid.status).toBe(303);
  return target.session(session.id).payment_intent!;
};

/** The charge of `paymentIntentId` as the SDK sees it through `expand[]=latest_charge`. */
const latestCharge = async (client: Stripe, paymentIntentId: string) => {
  const paymentIntent = await client.paymentIntents.retrieve(paymentIntentId, { expand: ['latest_charge'] });
  return paymentIntent.latest_charge as Stripe.Charge;
};

describe('card fingerprints', () => {
  test('when two payments use the same card, then both charges carry the fingerprint cardFingerprint computes', async () => {
    const first = await latestCharge(stripe, await payWithCard(standIn, '4242 4242 4242 4242'));
    const second = await latestCharge(stripe, await payWithCard(standIn, '4242424242424242'));

    expect(first.payment_method_details).toMatchObject({
      type: 'card',
      card: { brand: 'visa', last4: '4242', fingerprint: cardFingerprint('4242424242424242') },
    });
    expect(second.payment_method_details?.card?.fingerprint).toBe(
      first.payment_method_details?.card?.fingerprint,
    );
    expect(first.id).not.toBe(second.id);
    const retrieved = await stripe.charges.retrieve(first.id);
    expect(retrieved.payment_method_details?.card?.fingerprint).toBe(cardFingerprint('4242424242424242'));
  });

  test('when two payments use different cards, then their fingerprints differ and name each card', async () => {
    const visa = await latestCharge(stripe, await payWithCard(standIn, '4242424242424242'));
    const mastercard = await latestCharge(stripe, await payWithCard(standIn, '5555555555554444'));

    const visaCard = visa.payment_method_details?.card;
    const mastercardCard = mastercard.payment_method_details?.card;
    expect(mastercardCard).toMatchObject({
      brand: 'mastercard',
      last4: '4444',
      fingerprint: cardFingerprint('5555 5555 5555 4444'),
    });
    expect(mastercardCard?.fingerprint).not.toBe(visaCard?.fingerprint);
    expect(cardFingerprint('4000056655665556')).not.toBe(cardFingerprint('4242424242424242'));
    expect(cardFingerprint('4242424242424242')).toMatch(/^[0-9A-Za-z]{16}$/);
  });

  test('when another stand-in instance charges the same card, then the fingerprint is the same', async () => {
    const other = await startStripeStandIn({ webhookSecret: WEBHOOK_SECRET });
    try {
      const here = await latestCharge(stripe, await payWithCard(standIn, '5555555555554444'));
      const there = await latestCharge(sdkFor(other), await payWithCard(other, '5555555555554444'));

      expect(there.payment_method_details?.card?.fingerprint).toBe(
        here.payment_method_details?.card?.fingerprint,
      );
    } finally {
      await other.stop();
    }
  });

  test('when the page is paid with the card field empty, then the charge is the prefilled 4242 card', async () => {
    const charge = await latestCharge(stripe, await payWithCard(standIn, ''));

    expect(charge.payment_method_details?.card).toMatchObject({
      last4: '4242',
      fingerprint: cardFingerprint('4242424242424242'),
    });
  });
});

describe('connect accounts', () => {
  test('when an express account is created, then it is retrievable and not yet able to charge or be paid', async () => {
    const account = await createAccount('creator@example.com');

    expect(account).toMatchObject({
      object: 'account',
      type: 'express',
      email: 'creator@example.com',
      country: 'US',
      charges_enabled: false,
      payouts_enabled: false,
      details_submitted: false,
      metadata: { userId: 'user_1' },
      capabilities: { transfers: 'inactive' },
    });
    expect(account.id).toMatch(/^acct_[0-9A-Za-z]{16}$/);
    expect(account.created).toBeGreaterThan(0);
    const retrieved = await stripe.accounts.retrieve(account.id);
    expect(retrieved).toEqual(expect.objectContaining({ id: account.id, payouts_enabled: false }));
  });

  test('when an account is unknown or the type is not express, then Stripe-shaped errors name it', async () => {
    await expect(stripe.accounts.retrieve('acct_missing')).rejects.toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
    });
    await expect(stripe.accounts.create({ type: 'standard' })).rejects.toMatchObject({
      statusCode: 400,
      param: 'type',
    });
    await expect(onboardingLink('acct_missing')).rejects.toMatchObject({
      statusCode: 400,
      code: 'resource_missing',
      param: 'account',
    });
  });
});

describe('onboarding', () => {
  test('when the onboarding page is completed, then the account is enabled, account.updated arrives and the browser returns', async () => {
    const account = await createAccount();
    const link = await onboardingLink(account.id);
    expect(link).toMatchObject({ object: 'account_link' });
    expect(link.url).toMatch(new RegExp(`^${standIn.url}/connect/onboarding/[\\w-]+$`));
    expect(link.expires_at).toBeGreaterThan(link.created);

    const page = await fetch(link.url);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(html).toContain(`method="POST" action="${link.url}"`);
    expect(html).toContain('name="action" value="complete"');
    expect(html).toContain('id="complete"');

    const completed = await press(link.url, { action: 'complete' });

    expect(completed.status).toBe(303);
    expect(completed.headers.get('location')).toBe(RETURN_URL);
    expect(await stripe.accounts.retrieve(account.id)).toMatchObject({
      details_submitted: true,
      charges_enabled: true,
      payouts_enabled: true,
      capabilities: { transfers: 'active' },
    });
    await receiver.waitFor(() => ofType('account.updated').length >= 1);
    const [updated] = ofType('account.updated');
    expect(updated!.event.account).toBe(account.id);
    expect(updated!.event.data.object).toMatchObject({ id: account.id, payouts_enabled: true });
    // Links are single-use, as on Stripe.
    expect((await fetch(link.url)).status).toBe(404);
  });

  test('when the link is unknown or expired, then the page is a 404', async () => {
    expect((await fetch(`${standIn.url}/connect/onboarding/no-such-token`)).status).toBe(404);
    expect(
      (await press(`${standIn.url}/connect/onboarding/no-such-token`, { action: 'complete' })).status,
    ).toBe(404);
    const shortLived = await startStripeStandIn({
      webhookSecret: WEBHOOK_SECRET,
      accountLinkLifetimeSeconds: 0,
    });
    try {
      const client = sdkFor(shortLived);
      const account = await client.accounts.create({ type: 'express' });
      const link = await client.accountLinks.create({
        account: account.id,
        type: 'account_onboarding',
        refresh_url: REFRESH_URL,
        return_url: RETURN_URL,
      });

      expect((await fetch(link.url)).status).toBe(404);
      expect((await press(link.url, { action: 'complete' })).status).toBe(404);
      expect(shortLived.account(account.id).payouts_enabled).toBe(false);
    } finally {
      await shortLived.stop();
    }
  });

  test('when the form is posted without action=complete, then it is a 400 and the account is unchanged', async () => {
    const account = await createAccount();
    const link = await onboardingLink(account.id);

    const response = await press(link.url, { action: 'skip' });

    expect(response.status).toBe(400);
    expect(standIn.account(account.id).details_submitted).toBe(false);
    expect((await fetch(link.url)).status).toBe(200);
  });

  test('when completeOnboarding is called twice, then account.updated is emitted once', async () => {
    const account = await createAccount();

    standIn.completeOnboarding(account.id);
    const again = standIn.completeOnboarding(account.id);

    expect(again.payouts_enabled).toBe(true);
    await standIn.idle();
    expect(ofType('account.updated').filter((r) => r.event.account === account.id)).toHaveLength(1);
    expect(() => standIn.completeOnboarding('acct_missing')).toThrow();
  });
});

describe('transfers', () => {
  test('when a transfer is made to an onboarded account, then it is returned, listed and announced', async () => {
    const account = await onboardedAccount();

    const transfer = await stripe.transfers.create(transferParams(account.id));

    expect(transfer).toMatchObject({
      object: 'transfer',
      amount: 1500,
      currency: 'usd',
      destination: account.id,
      metadata: { withdrawalId: 'wd_1' },
      transfer_group: 'wd_1',
      description: 'Withdrawal of 1,500 credits',
      reversed: false,
      amount_reversed: 0,
      livemode: false,
    });
    expect(transfer.id).toMatch(/^tr_/);
    expect((await stripe.transfers.retrieve(transfer.id)).amount).toBe(1500);
    const listed = await stripe.transfers.list({ destination: account.id });
    expect(listed.data.map((t) => t.id)).toEqual([transfer.id]);
    const expanded = await stripe.transfers.retrieve(transfer.id, { expand: ['destination'] });
    expect((expanded.destination as Stripe.Account).email).toBe(account.email);
    expect(standIn.transfers.filter((t) => t.destination === account.id).map((t) => t.id)).toEqual([
      transfer.id,
    ]);
    await receiver.waitFor(() => ofType('transfer.created').length >= 1);
    expect(ofType('transfer.created')[0]!.event.data.object).toMatchObject({ id: transfer.id, amount: 1500 });
  });

  test('when the same idempotency key is reused, then the same params replay the transfer and other params are refused', async () => {
    const account = await onboardedAccount();
    const key = `withdrawal-${account.id}`;

    const first = await stripe.transfers.create(transferParams(account.id), { idempotencyKey: key });
    const replay = await stripe.transfers.create(transferParams(account.id), { idempotencyKey: key });
    const conflict = stripe.transfers.create(transferParams(account.id, { amount: 1600 }), {
      idempotencyKey: key,
    });

    expect(replay.id).toBe(first.id);
    expect(replay.lastResponse.headers['idempotent-replayed']).toBe('true');
    await expect(conflict).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect((await stripe.transfers.list({ destination: account.id })).data).toHaveLength(1);
    await standIn.idle();
    expect(ofType('transfer.created')).toHaveLength(1);
  });

  test('when the destination is not onboarded or unknown, then the transfer is refused as Stripe refuses it and nothing is made', async () => {
    const account = await createAccount();
    const before = standIn.transfers.length;

    await expect(stripe.transfers.create(transferParams(account.id))).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
      code: 'insufficient_capabilities_for_transfer',
      message: expect.stringContaining('transfers, crypto_transfers, legacy_payments'),
    });
    await expect(stripe.transfers.create(transferParams('acct_missing'))).rejects.toMatchObject({
      statusCode: 400,
      code: 'resource_missing',
      param: 'destination',
    });
    await expect(stripe.transfers.create(transferParams(account.id, { amount: 0 }))).rejects.toMatchObject({
      statusCode: 400,
      param: 'amount',
    });
    expect(standIn.transfers.length).toBe(before);
  });

  test('when onboarding completes after a refused transfer, then a retry with the same key goes through', async () => {
    const account = await createAccount();
    const key = `withdrawal-retry-${account.id}`;
    await expect(
      stripe.transfers.create(transferParams(account.id), { idempotencyKey: key }),
    ).rejects.toMatchObject({
      code: 'insufficient_capabilities_for_transfer',
    });

    standIn.completeOnboarding(account.id);

    const transfer = await stripe.transfers.create(transferParams(account.id), { idempotencyKey: key });
    expect(transfer.destination).toBe(account.id);
  });

  test('when failNext is set, then that transfer fails with balance_insufficient, makes nothing, and its key replays the failure', async () => {
    const account = await onboardedAccount();
    const before = standIn.transfers.length;
    standIn.transferFaults.failNext(1);

    const failed = stripe.transfers.create(transferParams(account.id), {
      idempotencyKey: `fail-${account.id}`,
    });

    await expect(failed).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    await expect(failed).rejects.toMatchObject({ statusCode: 400, code: 'balance_insufficient' });
    expect(standIn.transfers.length).toBe(before);
    await standIn.idle();
    expect(ofType('transfer.created')).toEqual([]);
    // Stripe stores the answer of a request that ran, errors included, for its key.
    const sameKey = stripe.transfers.create(transferParams(account.id), {
      idempotencyKey: `fail-${account.id}`,
    });
    await expect(sameKey).rejects.toMatchObject({
      code: 'balance_insufficient',
      headers: expect.objectContaining({ 'idempotent-replayed': 'true' }),
    });
    const newKey = await stripe.transfers.create(transferParams(account.id), {
      idempotencyKey: `ok-${account.id}`,
    });
    expect(newKey.destination).toBe(account.id);
    expect(standIn.transfers.length).toBe(before + 1);
  });

  test('when a destination is in failDestinations, then transfers to it fail until it is removed, others go through', async () => {
    const failing = await onboardedAccount();
    const healthy = await onboardedAccount();
    standIn.transferFaults.failDestinations.add(failing.id);

    await expect(stripe.transfers.create(transferParams(failing.id))).rejects.toMatchObject({
      code: 'balance_insufficient',
    });
    await expect(stripe.transfers.create(transferParams(failing.id))).rejects.toMatchObject({
      code: 'balance_insufficient',
    });
    expect((await stripe.transfers.create(transferParams(healthy.id))).destination).toBe(healthy.id);
    expect(standIn.transfers.filter((t) => t.destination === failing.id)).toEqual([]);

    standIn.transferFaults.failDestinations.delete(failing.id);

    expect((await stripe.transfers.create(transferParams(failing.id))).destination).toBe(failing.id);
  });
});

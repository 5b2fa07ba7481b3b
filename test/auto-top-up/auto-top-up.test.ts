import { beginAutoTopUp, failAutoTopUp } from '../../app/auto-top-up';
import { http, signUp, startTestApp, type TestApp } from '../support/app';
import { sleep, waitFor } from '../support/wait';
import { startTestWorker, type TestWorker } from '../support/worker';
import { autoTopUpTools, DECLINES_LATER, NEEDS_AUTHENTICATION } from './support';

/**
 * Auto top-up on the real stack (DESIGN.md §13): the API, a worker, Postgres, Temporal and the
 * Stripe stand-in. A user's first Checkout saves their card; debits that take their headroom
 * below the threshold charge it off-session through their one auto top-up workflow.
 */

let app: TestApp;
let worker: TestWorker;
let api: ReturnType<typeof http>;
let t: ReturnType<typeof autoTopUpTools>;

beforeAll(async () => {
  app = await startTestApp();
  worker = await startTestWorker(app);
  api = http(app.url);
  t = autoTopUpTools(app, api);
});
afterAll(async () => {
  await worker?.stop();
  await app?.close();
});

describe('saving the setting', () => {
  test('when a user without a saved card enables auto top-up, then 400 and nothing is saved', async () => {
    const user = await signUp(api);
    const res = await t.putSettings(user, {
      autoTopUp: { enabled: true, belowCredits: 1000, packageId: 'starter', monthlyLimitCents: 10_000 },
    });
    expect(res.status).toBe(400);
    expect(res.body.error?.message).toMatch(/^autoTopUp: needs a saved card/);
    expect(await t.settings(user)).toEqual({ lowBalanceThreshold: 1000 });
  });

  test('when the package is unknown, the limit is below its price or a field is bad, then 400 naming it', async () => {
    const user = await t.buyerWithSavedCard();
    const put = (autoTopUp: Record<string, unknown>) =>
      t.putSettings(user, {
        autoTopUp: {
          enabled: true,
          belowCredits: 1000,
          packageId: 'starter',
          monthlyLimitCents: 10_000,
          ...autoTopUp,
        },
      });
    expect((await put({ packageId: 'nope' })).body.error?.message).toMatch(/^autoTopUp\.packageId: /);
    expect((await put({ monthlyLimitCents: 4999 })).body.error?.message).toMatch(
      /^autoTopUp\.monthlyLimitCents: must allow at least one top-up/,
    );
    const bad = await put({ belowCredits: -1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toMatch(/^autoTopUp\.belowCredits: /);
    expect((await put({ extra: 1 })).body.error?.message).toMatch(/^autoTopUp\.extra: /);
    expect((await t.settings(user)).autoTopUp).toBeUndefined();
  });

  test('when a buyer saves the setting, then GET shows it, its state, the saved card and no spend yet', async () => {
    const user = await t.buyerWithSavedCard();
    await t.enable(user, { belowCredits: 1000, monthlyLimitCents: 20_000 });
    expect(await t.settings(user)).toEqual({
      lowBalanceThreshold: 1000,
      autoTopUp: {
        enabled: true,
        belowCredits: 1000,
        packageId: 'starter',
        monthlyLimitCents: 20_000,
        state: 'active',
        failuresInARow: 0,
        monthSpendCents: 0,
        currency: 'usd',
        inFlight: false,
        savedCard: { brand: 'visa', last4: '4242' },
        recentPurchases: [],
      },
    });
  });
});

describe('topping up', () => {
  test('when many debits cross the threshold at once, then one top-up is charged and credited once', async () => {
    const user = await t.buyerWithSavedCard();
    await t.enable(user, { belowCredits: 4000 });
    const charges = await Promise.all(Array.from({ length: 40 }, () => t.charge(user, 20_000)));
    const spent = charges.reduce((sum, c) => sum + (c?.charged ?? 0), 0);
    expect(spent).toBeGreaterThan(500);
    const done = await t.settled(user, 1);
    expect(done.results).toEqual([expect.objectContaining({ outcome: 'credited' })]);
    const purchases = await t.automaticPurchases(user);
    expect(purchases).toEqual([expect.objectContaining({ status: 'completed' })]);
    expect(t.offSessionIntents(user).map((pi) => pi.id)).toEqual([purchases[0]!.payment_intent_id]);
    expect((await t.balance(user)).available).toBe(4500 - spent + 4500);
    // It is a purchase like any other: in the history, with its receipt.
    const history = await api.get<{ data: { id: string; status: string }[] }>('/v1/purchases', user.apiKey);
    expect(history.body.data.map((p) => p.id)).toContain(purchases[0]!.id);
    await waitFor('the receipt', async () => (await t.notices(user, 'receipt')).length === 2);
    const view = (await t.settings(user)).autoTopUp!;
    expect(view).toMatchObject({ monthSpendCents: 5000, failuresInARow: 0, inFlight: false });
    expect(view.recentPurchases).toEqual([
      expect.objectContaining({ id: purchases[0]!.id, status: 'completed' }),
    ]);
  });

  test('when a card declines, then two more times, then auto top-up is suspended with one notice until saved again', async () => {
    const user = await t.buyerWithSavedCard(DECLINES_LATER);
    await t.enable(user, { belowCredits: 4000 });
    for (let failure = 1; failure <= 3; failure++) {
      await t.spendBelow(user, 4000);
      const done = await t.settled(user, failure);
      expect(done.results.at(-1)).toMatchObject({ outcome: 'failed', suspended: failure === 3 });
      expect(done.results.at(-1)).toMatchObject({ reason: expect.stringMatching(/^card_declined: /) });
      // Back above the threshold, so the next debit crosses again.
      await t.grant(user, 4500 - (await t.balance(user)).available);
    }
    const view = (await t.settings(user)).autoTopUp!;
    expect(view).toMatchObject({ state: 'suspended', failuresInARow: 3, monthSpendCents: 0 });
    expect(await t.notices(user, 'auto_top_up_suspended')).toHaveLength(1);
    const notified = await api.get<{ data: unknown[] }>(
      '/v1/notifications?kind=auto_top_up_suspended',
      user.apiKey,
    );
    expect(notified.body.data).toHaveLength(1);

    // Suspended: a fourth crossing charges nothing.
    await t.spendBelow(user, 4000);
    await sleep(1500);
    expect(await t.automaticPurchases(user)).toHaveLength(3);
    expect(t.offSessionIntents(user)).toHaveLength(3);
    expect((await t.automaticPurchases(user)).every((p) => p.status === 'failed')).toBe(true);

    // Saving the setting again makes it active, with the count started anew.
    await t.grant(user, 4500 - (await t.balance(user)).available);
    expect(await t.enable(user, { belowCredits: 4000 })).toMatchObject({
      state: 'active',
      failuresInARow: 0,
    });
    expect(await t.notices(user, 'auto_top_up_suspended')).toHaveLength(1);
  });

  test('when the saved card needs authentication, then the failure is counted and nothing is credited', async () => {
    const user = await t.buyerWithSavedCard(NEEDS_AUTHENTICATION);
    await t.enable(user, { belowCredits: 4000 });
    await t.spendBelow(user, 4000);
    const before = (await t.balance(user)).available;
    const done = await t.settled(user, 1);
    expect(done.results).toEqual([
      expect.objectContaining({
        outcome: 'failed',
        reason: expect.stringMatching(/^authentication_required: /),
      }),
    ]);
    const [purchase] = await t.automaticPurchases(user);
    expect(purchase).toMatchObject({ status: 'failed', payment_intent_id: null });
    const [intent] = t.offSessionIntents(user);
    expect(app.standIn.paymentIntent(intent!.id).status).toBe('requires_action');
    expect((await t.balance(user)).available).toBe(before);
    expect((await t.settings(user)).autoTopUp).toMatchObject({ state: 'active', failuresInARow: 1 });
  });

  test('when a top-up is in flight, then the monthly limit counts it: the next crossing is refused until it fails', async () => {
    const user = await t.buyerWithSavedCard();
    // 1.5 packages a month: one top-up fits, a second does not while the first counts.
    await t.enable(user, { belowCredits: 4000, monthlyLimitCents: 7500 });
    const first = await beginAutoTopUp({ sql: app.sql }, { userId: user.id, crossingKey: 'crossing-a' });
    expect(first).toMatchObject({ kind: 'charge', amountCents: 5000 });
    expect((await t.settings(user)).autoTopUp).toMatchObject({ inFlight: true, monthSpendCents: 5000 });
    expect(await beginAutoTopUp({ sql: app.sql }, { userId: user.id, crossingKey: 'crossing-b' })).toEqual({
      kind: 'skipped',
      reason: 'monthly_limit',
    });
    // The same crossing again (a retried activity) goes on with its own purchase.
    expect(await beginAutoTopUp({ sql: app.sql }, { userId: user.id, crossingKey: 'crossing-a' })).toEqual(
      first,
    );
    if (first.kind !== 'charge') throw new Error('expected a charge');
    await failAutoTopUp(
      { ...app.root.services, balanceEvents: app.root.useCases.balanceEvents },
      { purchaseId: first.purchaseId, userId: user.id, reason: 'card_declined: test' },
    );
    // A failed charge spends nothing: the limit has room again.
    expect(
      await beginAutoTopUp({ sql: app.sql }, { userId: user.id, crossingKey: 'crossing-c' }),
    ).toMatchObject({
      kind: 'charge',
    });
  });

  test('when this month already spent the limit, then a later crossing charges nothing', async () => {
    const user = await t.buyerWithSavedCard();
    await t.enable(user, { belowCredits: 4000, monthlyLimitCents: 5000 });
    await t.spendBelow(user, 4000);
    await t.settled(user, 1);
    await t.spendBelow(user, 4000);
    const done = await t.settled(user, 2);
    expect(done.results.map((r) => r.outcome)).toEqual(['credited', 'skipped']);
    expect(done.results[1]).toEqual({ outcome: 'skipped', reason: 'monthly_limit' });
    expect(t.offSessionIntents(user)).toHaveLength(1);
    expect((await t.settings(user)).autoTopUp).toMatchObject({ monthSpendCents: 5000 });
  });

  test('when the setting is saved while the balance is already below it, then a top-up starts at once', async () => {
    const user = await t.buyerWithSavedCard();
    await t.enable(user, { belowCredits: 5000 });
    const done = await t.settled(user, 1);
    expect(done.results).toEqual([expect.objectContaining({ outcome: 'credited' })]);
    expect((await t.balance(user)).available).toBe(9000);
  });
});

describe('the customer portal and the credits page', () => {
  test('when a user has not bought anything, then the billing portal is 409', async () => {
    const user = await signUp(api);
    const res = await api.post<{ error: { code: string; message: string } }>(
      '/v1/billing-portal',
      {},
      user.apiKey,
    );
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/first purchase/);
  });

  test('when a buyer opens the billing portal, then its page lists their payments with receipts', async () => {
    const user = await t.buyerWithSavedCard();
    const res = await api.post<{ url: string }>('/v1/billing-portal', {}, user.apiKey);
    expect(res.status).toBe(200);
    const page = await fetch(res.body.url);
    expect(page.status).toBe(200);
    const html = await page.text();
    const [purchase] = await app.sql<{ payment_intent_id: string }[]>`
      SELECT payment_intent_id FROM purchases WHERE user_id = ${user.id}`;
    expect(html).toContain(`data-payment-intent="${purchase!.payment_intent_id}"`);
    expect(html).toContain('$50.00');
    expect(html).toContain('class="receipt"');
    expect(html).toContain(`${app.url}/usercredits`);
  });

  test('when the credits page is shown, then it links to the portal and shows the setting and each automatic purchase', async () => {
    const user = await t.buyerWithSavedCard();
    await t.enable(user, { belowCredits: 4000, monthlyLimitCents: 20_000 });
    await t.spendBelow(user, 4000);
    await t.settled(user, 1);
    const [automatic] = await t.automaticPurchases(user);
    const page = await fetch(`${app.url}/usercredits`, {
      headers: { authorization: `Bearer ${user.apiKey}` },
    });
    const html = await page.text();
    expect(html).toContain('id="billing-portal"');
    expect(html).toContain('id="auto-top-up"');
    expect(html).toContain('data-state="active"');
    expect(html).toMatch(new RegExp(`data-purchase-id="${automatic!.id}"[^>]*data-origin="auto_top_up"`));
  });

  test('when the portal form is posted from another site, then 403; from the page, then a redirect to the portal', async () => {
    const user = await t.buyerWithSavedCard();
    const post = (origin: string) =>
      fetch(`${app.url}/usercredits/billing-portal`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.apiKey}`, origin },
        redirect: 'manual',
      });
    expect((await post('https://evil.example')).status).toBe(403);
    const ok = await post(app.url);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toMatch(/\/billing\/portal\//);
  });
});

import { randomUUID } from 'node:crypto';
import type { AutoTopUpView } from '../../app';
import { type AutoTopUpProgress, autoTopUpProgressQuery, workflowIds } from '../../workflows/messages';
import { ADMIN_KEY, type http, signUp, type TestApp } from '../support/app';
import { checkout } from '../support/checkout';
import { waitFor } from '../support/wait';

export const PAYS = '4242424242424242';
/** Pays at checkout, declines every off-session charge (Stripe's 0341 test card). */
export const DECLINES_LATER = '4000000000000341';
/** Pays at checkout (the cardholder authenticates there), needs authentication off-session. */
export const NEEDS_AUTHENTICATION = '4000002500003155';

export type Api = ReturnType<typeof http>;
export type TestUser = Awaited<ReturnType<typeof signUp>>;

export interface Settings {
  lowBalanceThreshold: number | null;
  autoTopUp?: AutoTopUpView;
  error?: { code: string; message: string };
}

export function autoTopUpTools(app: TestApp, api: Api) {
  const balance = async (user: TestUser) =>
    (await api.get<{ available: number; posted: number; held: number }>('/v1/balance', user.apiKey)).body;

  /** A new user who bought the starter package (4,500 credits) through Checkout with `card`. */
  async function buyerWithSavedCard(card = PAYS): Promise<TestUser> {
    const user = await signUp(api);
    const started = await api.post<{ id: string; checkoutUrl: string }>(
      '/v1/purchases',
      { packageId: 'starter' },
      user.apiKey,
    );
    expect(started.status).toBe(201);
    expect((await checkout(started.body.checkoutUrl, 'pay', card)).status).toBe(303);
    await waitFor('the card saved', async () => {
      const [row] = await app.sql<{ payment_method_id: string | null }[]>`
        SELECT payment_method_id FROM stripe_customers WHERE user_id = ${user.id}`;
      return row?.payment_method_id;
    });
    expect((await balance(user)).available).toBe(4500);
    return user;
  }

  const putSettings = (user: TestUser, json: unknown) =>
    api.raw<Settings>('PUT', '/v1/settings', { key: user.apiKey, json });

  async function enable(
    user: TestUser,
    setting: { belowCredits: number; monthlyLimitCents?: number; packageId?: string },
  ): Promise<AutoTopUpView> {
    const res = await putSettings(user, {
      autoTopUp: {
        enabled: true,
        packageId: setting.packageId ?? 'starter',
        belowCredits: setting.belowCredits,
        monthlyLimitCents: setting.monthlyLimitCents ?? 100_000,
      },
    });
    expect(res.status).toBe(200);
    return res.body.autoTopUp!;
  }

  const settings = async (user: TestUser) => (await api.get<Settings>('/v1/settings', user.apiKey)).body;

  /** One usage event; null when the balance could not cover it (402). */
  async function charge(user: TestUser, outputTokens: number) {
    const res = await api.post<{ charged: number; balance: number }>(
      '/v1/usage',
      { feature: 'conversation', eventId: randomUUID(), outputTokens },
      user.apiKey,
    );
    if (res.status === 402) return null;
    if (res.status !== 201) throw new Error(`charge: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Charges until the available balance is below `below` (one crossing when it started above). */
  async function spendBelow(user: TestUser, below: number, outputTokens = 20_000): Promise<void> {
    let available = (await balance(user)).available;
    while (available >= below) {
      const charged = await charge(user, outputTokens);
      if (!charged) throw new Error('spendBelow: the balance ran out first');
      available = charged.balance;
    }
  }

  async function grant(user: TestUser, credits: number) {
    const res = await api.post('/v1/admin/grants', { userId: user.id, credits }, ADMIN_KEY, {
      'idempotency-key': randomUUID(),
    });
    expect(res.status).toBe(201);
  }

  const automaticPurchases = (user: TestUser) =>
    app.sql<
      { id: string; status: string; payment_intent_id: string | null; failure_reason: string | null }[]
    >`
      SELECT id, status, payment_intent_id, failure_reason FROM purchases
      WHERE user_id = ${user.id} AND origin = 'auto_top_up' ORDER BY created_at`;

  /** The user's off-session payment intents in the stand-in (Checkout's are not off-session). */
  const offSessionIntents = (user: TestUser) =>
    app.standIn.events
      .filter((e) => e.type === 'payment_intent.succeeded' || e.type === 'payment_intent.payment_failed')
      .map((e) => e.data.object as { id: string; metadata: Record<string, string> })
      .filter((pi) => pi.metadata.userId === user.id);

  const progress = (user: TestUser): Promise<AutoTopUpProgress> =>
    app.temporal.workflow.getHandle(workflowIds.autoTopUp(user.id)).query(autoTopUpProgressQuery);

  /** Waits until the user's auto top-up workflow has no top-up in flight nor waiting. */
  const settled = (user: TestUser, results: number) =>
    waitFor(`${results} auto top-up result(s)`, async () => {
      const p = await progress(user);
      return p.inFlight === null && p.results.length >= results ? p : null;
    });

  const notices = (user: TestUser, kind: string) =>
    app.sql<{ subject: string; body: string }[]>`
      SELECT subject, body FROM outbox WHERE user_id = ${user.id} AND kind = ${kind}`;

  return {
    balance,
    buyerWithSavedCard,
    putSettings,
    enable,
    settings,
    charge,
    spendBelow,
    grant,
    automaticPurchases,
    offSessionIntents,
    progress,
    settled,
    notices,
  };
}

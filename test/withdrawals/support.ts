import { ADMIN_KEY, http, signUp, type TestApp } from '../support/app';
import { waitFor } from '../support/wait';

/** Shared by the withdrawal tests: a creator with earned credits and an onboarded payout account. */

export interface WithdrawalBody {
  id: string;
  credits: number;
  amountCents: number;
  currency: string;
  status: string;
  reason: string | null;
  transferId: string | null;
  createdAt: string;
  decidedAt: string | null;
  decision?: string;
  userId?: string;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export interface EarnedBucket {
  posted: number;
  held: number;
  available: number;
  withdrawable: number;
}

export function withdrawalsApi(app: TestApp) {
  const api = http(app.url);
  let earnings = 0;

  /** Earned credits for the user as a creator earning would bring them (cleared at once by default). */
  async function earn(userId: string, credits: number, clearSeconds = 0): Promise<void> {
    earnings += 1;
    await app.ledger.credit({
      idempotencyKey: `test-earning:${userId}:${earnings}`,
      userId,
      amount: credits,
      from: 'creator_earnings',
      bucket: 'earned',
      kind: 'test_earning',
      clearSeconds,
    });
  }

  /** POST /v1/payout-account, then the stand-in's onboarding form, then payouts enabled (via account.updated). */
  async function onboard(apiKey: string): Promise<string> {
    const opened = await api.post<{ accountId: string; onboardingUrl: string; payoutsEnabled: boolean }>(
      '/v1/payout-account',
      {},
      apiKey,
    );
    expect(opened.status).toBe(200);
    const pressed = await fetch(opened.body.onboardingUrl, {
      method: 'POST',
      body: new URLSearchParams({ action: 'complete' }),
      redirect: 'manual',
    });
    expect(pressed.status).toBe(303);
    await waitFor('payouts enabled', async () => {
      const res = await api.get<{ payoutsEnabled: boolean }>('/v1/payout-account', apiKey);
      return res.body.payoutsEnabled;
    });
    return opened.body.accountId;
  }

  /** A signed-up creator with `credits` withdrawable earned credits and, unless told, an onboarded account. */
  async function creator(credits: number, options: { onboarded?: boolean } = {}) {
    const user = await signUp(api);
    if (credits > 0) await earn(user.id, credits);
    const accountId = options.onboarded === false ? null : await onboard(user.apiKey);
    return { ...user, accountId };
  }

  const withdraw = (apiKey: string, body: unknown, key?: string) =>
    api.post<WithdrawalBody & ErrorBody>(
      '/v1/withdrawals',
      body,
      apiKey,
      key ? { 'idempotency-key': key } : {},
    );

  const decide = (id: string, decision: 'approve' | 'reject', body: unknown = {}, key = ADMIN_KEY) =>
    api.post<WithdrawalBody & ErrorBody>(`/v1/admin/withdrawals/${id}/${decision}`, body, key);

  const get = (apiKey: string, id: string) =>
    api.get<WithdrawalBody & ErrorBody>(`/v1/withdrawals/${id}`, apiKey);

  async function earned(apiKey: string): Promise<EarnedBucket> {
    const res = await api.get<{ buckets: { earned: EarnedBucket } }>('/v1/balance', apiKey);
    return res.body.buckets.earned;
  }

  /** The stand-in's transfers for one withdrawal (its metadata names it). */
  const transfersOf = (withdrawalId: string) =>
    app.standIn.transfers.filter((t) => t.metadata?.withdrawalId === withdrawalId);

  /** Polls the user's view until the withdrawal has left pending_approval. */
  const until = (apiKey: string, id: string, status: string, timeoutMs = 20_000) =>
    waitFor(
      `withdrawal ${id} ${status}`,
      async () => {
        const res = await get(apiKey, id);
        return res.body.status === status ? res.body : null;
      },
      timeoutMs,
    );

  return { api, earn, onboard, creator, withdraw, decide, get, earned, transfersOf, until };
}

import { WorkflowNotFoundError } from '@temporalio/client';
import { workflowIds } from '../../workflows/messages';
import { http, type TestApp } from '../support/app';
import { checkout } from '../support/checkout';
import { waitFor } from '../support/wait';

/** Test cards: any Luhn-valid number pays on the stand-in; each number has its own fingerprint. */
export const CARD_A = '4242424242424242';
export const CARD_B = '5555555555554444';
export const CARD_C = '4000056655665556';

let n = 0;
/** A fresh address at `domain`, `prefix` first (Gmail tests need to control the mailbox). */
export function freshEmail(prefix = 'ref', domain = 'example.test'): string {
  n += 1;
  return `${prefix}${process.pid}x${Date.now()}x${n}@${domain}`;
}

export interface SignedUp {
  id: string;
  email: string;
  apiKey: string;
  referralCode: string;
}

export interface ReferralsBody {
  referralCode: string;
  link: string;
  referred: {
    email: string;
    signedUpAt: string;
    status: string;
    rewardCredits: number;
    reason?: string;
    clawedBackCredits?: number;
    shortfallCredits?: number;
  }[];
  referredCount: number;
  rewardsTotal: number;
}

/** The referral flows through HTTP: sign up (with a code), buy and pay on the stand-in, read referrals. */
export function referralsApi(app: TestApp) {
  const api = http(app.url);

  async function signUp(email = freshEmail(), referralCode?: string): Promise<SignedUp> {
    const res = await api.post<SignedUp>('/v1/users', { email, ...(referralCode ? { referralCode } : {}) });
    if (res.status !== 201) throw new Error(`sign up failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Starts a purchase; returns its id and checkout URL. */
  async function startBuying(key: string, packageId = 'starter') {
    const res = await api.post<{ id: string; checkoutUrl: string }>('/v1/purchases', { packageId }, key);
    if (res.status !== 201) throw new Error(`purchase failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  async function pay(checkoutUrl: string, card: string): Promise<void> {
    const paid = await checkout(checkoutUrl, 'pay', card);
    if (paid.status !== 303) throw new Error(`pay failed: ${paid.status} ${paid.html.slice(0, 300)}`);
  }

  /** Waits until the purchase is credited and its credit activity (with the referral step) is done. */
  async function completed(key: string, purchaseId: string): Promise<{ paymentIntentId: string }> {
    await waitFor(
      `purchase ${purchaseId} completed`,
      async () => {
        const res = await api.get<{ status: string }>(`/v1/purchases/${purchaseId}`, key);
        return res.body.status === 'completed';
      },
      30_000,
    );
    // The reward step runs after the purchase is marked completed, in the same activity: wait
    // for the receipt, which the workflow sends only after that activity returned.
    await waitFor(
      `receipt for ${purchaseId}`,
      async () => {
        const [row] = await app.sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM outbox WHERE dedupe_key = ${`receipt:${purchaseId}`}`;
        return (row?.n ?? 0) > 0;
      },
      30_000,
    );
    const [row] = await app.sql<{ payment_intent_id: string }[]>`
      SELECT payment_intent_id FROM purchases WHERE id = ${purchaseId}`;
    return { paymentIntentId: row!.payment_intent_id };
  }

  /** Buys a package, pays with `card`, waits until it is credited. */
  async function paid(key: string, card: string, packageId = 'starter') {
    const started = await startBuying(key, packageId);
    await pay(started.checkoutUrl, card);
    return { purchaseId: started.id, ...(await completed(key, started.id)) };
  }

  async function referrals(key: string): Promise<ReferralsBody> {
    const res = await api.get<ReferralsBody>('/v1/referrals', key);
    if (res.status !== 200) throw new Error(`referrals failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  async function balance(key: string) {
    const res = await api.get<{
      available: number;
      buckets: Record<'purchased' | 'earned', { available: number; posted: number }>;
    }>('/v1/balance', key);
    return res.body;
  }

  return { api, signUp, startBuying, pay, completed, paid, referrals, balance };
}

/** The transfers of `kind` into or out of the user's earned bucket, oldest first (signed: + in). */
export async function earnedTransfers(app: TestApp, userId: string, kind: string) {
  return app.sql<{ amount: number; cause_type: string | null; cause_id: string | null }[]>`
    SELECT CASE WHEN t.credit_account_id = a.id THEN t.amount ELSE -t.amount END AS amount,
           t.cause_type, t.cause_id
    FROM transfers t JOIN accounts a ON a.id IN (t.credit_account_id, t.debit_account_id)
    WHERE a.user_id = ${userId} AND a.bucket = 'earned' AND t.kind = ${kind} ORDER BY t.id`;
}

/** The referral row of a referee, as stored. */
export async function referralOf(app: TestApp, refereeId: string) {
  const [row] = await app.sql<
    {
      id: string;
      status: string;
      reason: string | null;
      purchase_id: string | null;
      reward_credits: number;
      clawed_back_credits: number | null;
      clawback_reason: string | null;
    }[]
  >`SELECT id, status, reason, purchase_id, reward_credits, clawed_back_credits, clawback_reason
    FROM referrals WHERE referee_id = ${refereeId}`;
  return row ?? null;
}

/**
 * Waits for the workflow that handles the refund of `paymentIntentId` up to `throughCents` to be
 * started by the webhook and to finish (its take-back and the referral clawback are done then).
 */
export async function refundSettled(
  app: TestApp,
  paymentIntentId: string,
  throughCents: number,
): Promise<void> {
  const handle = app.temporal.workflow.getHandle(workflowIds.purchaseRefunded(paymentIntentId, throughCents));
  await waitFor(`refund workflow for ${paymentIntentId}`, async () => {
    try {
      await handle.describe();
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  });
  await handle.result();
}

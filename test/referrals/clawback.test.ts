import { randomUUID } from 'node:crypto';
import { clawBackReferralReward } from '../../app/referrals';
import { InsufficientWithdrawable } from '../../domain';
import { startTestApp, type TestApp } from '../support/app';
import { grantCredits } from '../support/db';
import { startTestWorker, type TestWorker } from '../support/worker';
import {
  CARD_A,
  CARD_C,
  earnedTransfers,
  freshEmail,
  referralOf,
  referralsApi,
  refundSettled,
} from './support';

/** Rewards clear after an hour here, so every refund in this file comes before the reward clears. */
let app: TestApp;
let worker: TestWorker;
let r: ReturnType<typeof referralsApi>;

beforeAll(async () => {
  app = await startTestApp({ earning: { clearingSeconds: 3600 } });
  worker = await startTestWorker(app);
  r = referralsApi(app);
});
afterAll(async () => {
  await worker.stop();
  await app.close();
});

function deps() {
  return { sql: app.sql, ledger: app.ledger, balanceEvents: app.root.useCases.balanceEvents };
}

/** A referrer rewarded 450 for a referee's Starter purchase paid with CARD_A. */
async function rewarded() {
  const referrer = await r.signUp();
  const referee = await r.signUp(freshEmail('refunder'), referrer.referralCode);
  const purchase = await r.paid(referee.apiKey, CARD_A);
  expect(await referralOf(app, referee.id)).toMatchObject({ status: 'rewarded', reward_credits: 450 });
  return { referrer, referee, ...purchase };
}

test('when the rewarding purchase is refunded before the reward clears, then the reward is taken back once and the referral is clawed_back', async () => {
  const { referrer, referee, paymentIntentId } = await rewarded();
  await app.services.stripe.refunds.create({ payment_intent: paymentIntentId });
  await refundSettled(app, paymentIntentId, 5000);

  const referral = await referralOf(app, referee.id);
  expect(referral).toMatchObject({ status: 'clawed_back', reward_credits: 450, clawed_back_credits: 450 });
  expect(await earnedTransfers(app, referrer.id, 'referral_clawback')).toEqual([
    { amount: -450, cause_type: 'referral', cause_id: referral!.id },
  ]);
  const balance = await r.balance(referrer.apiKey);
  expect(balance.buckets.earned).toMatchObject({ posted: 0, available: 0 });
  expect(await r.referrals(referrer.apiKey)).toMatchObject({
    referred: [{ status: 'clawed_back', rewardCredits: 0, clawedBackCredits: 450, shortfallCredits: 0 }],
    rewardsTotal: 0,
  });
});

test('when part of the reward was already spent, then what is left in the earned bucket is taken, the shortfall recorded, purchased credits untouched, nothing negative', async () => {
  const { referrer, referee, paymentIntentId } = await rewarded();
  await grantCredits(app.ledger, referrer.id, 1000, 'purchased');
  // 300 of the earned credits leave (as a withdrawal or a spend from that bucket would take them).
  await app.ledger.post({
    idempotencyKey: `test-spend-earned:${referrer.id}`,
    kind: 'test_spend',
    legs: [{ from: { userId: referrer.id, bucket: 'earned' }, to: { system: 'usage' }, amount: 300 }],
  });
  await app.services.stripe.refunds.create({ payment_intent: paymentIntentId });
  await refundSettled(app, paymentIntentId, 5000);

  expect(await referralOf(app, referee.id)).toMatchObject({
    status: 'clawed_back',
    clawed_back_credits: 150,
  });
  expect(await earnedTransfers(app, referrer.id, 'referral_clawback')).toEqual([
    expect.objectContaining({ amount: -150 }),
  ]);
  const balance = await r.balance(referrer.apiKey);
  expect(balance.buckets.earned).toMatchObject({ posted: 0, available: 0 });
  expect(balance.buckets.purchased).toMatchObject({ posted: 1000, available: 1000 });
  expect(await r.referrals(referrer.apiKey)).toMatchObject({
    referred: [{ status: 'clawed_back', rewardCredits: 300, clawedBackCredits: 150, shortfallCredits: 300 }],
    rewardsTotal: 300,
  });
});

test('when the rewarding purchase is refunded in two halves, then the reward is taken back once, at the first', async () => {
  const { referrer, referee, paymentIntentId } = await rewarded();
  await app.services.stripe.refunds.create({ payment_intent: paymentIntentId, amount: 2500 });
  await refundSettled(app, paymentIntentId, 2500);
  expect(await referralOf(app, referee.id)).toMatchObject({
    status: 'clawed_back',
    clawed_back_credits: 450,
  });
  await app.services.stripe.refunds.create({ payment_intent: paymentIntentId, amount: 2500 });
  await refundSettled(app, paymentIntentId, 5000);
  expect(await earnedTransfers(app, referrer.id, 'referral_clawback')).toHaveLength(1);
  expect((await r.balance(referrer.apiKey)).buckets.earned.posted).toBe(0);
});

test('when a clawback is asked for many times at once (a dispute, retries), then one transfer takes the reward and every answer agrees', async () => {
  const { referrer, purchaseId } = await rewarded();
  const answers = await Promise.all(
    Array.from({ length: 6 }, () => clawBackReferralReward(deps(), { purchaseId, reason: 'disputed' })),
  );
  for (const answer of answers) {
    expect(answer).toMatchObject({ rewardCredits: 450, clawedBackCredits: 450, shortfallCredits: 0 });
  }
  expect(await earnedTransfers(app, referrer.id, 'referral_clawback')).toHaveLength(1);
  const again = await clawBackReferralReward(deps(), { purchaseId, reason: 'refunded' });
  expect(again).toMatchObject({ clawedBackCredits: 450 });
  expect(await earnedTransfers(app, referrer.id, 'referral_clawback')).toHaveLength(1);
});

test('when the purchase earned no reward (no referral, or rejected), then a clawback does nothing', async () => {
  const buyer = await r.signUp();
  const { purchaseId } = await r.paid(buyer.apiKey, CARD_C);
  expect(await clawBackReferralReward(deps(), { purchaseId, reason: 'refunded' })).toBeNull();

  const referrer = await r.signUp();
  const self = await r.signUp(referrer.email.replace('@', '+me@'), referrer.referralCode);
  const own = await r.paid(self.apiKey, CARD_C);
  expect(await clawBackReferralReward(deps(), { purchaseId: own.purchaseId, reason: 'refunded' })).toBeNull();
  expect(await referralOf(app, self.id)).toMatchObject({ status: 'rejected' });
});

test('when the refund comes while the reward is decided but not yet paid (its activity between steps), then the reward is paid and taken back, and the ledger and the referral agree', async () => {
  const referrer = await r.signUp();
  const referee = await r.signUp(freshEmail('inflight'));
  const { purchaseId } = await r.paid(referee.apiKey, CARD_C);
  // The state the credit activity leaves if it stops right after deciding: decided, not paid.
  await app.sql`
    INSERT INTO referrals (id, referrer_id, referee_id, purchase_id, decided_at, reward_credits, reward_clear_seconds)
    VALUES (gen_random_uuid(), ${referrer.id}, ${referee.id}, ${purchaseId}, now(), 450, 3600)`;
  const answer = await clawBackReferralReward(deps(), { purchaseId, reason: 'refunded' });
  expect(answer).toMatchObject({ rewardCredits: 450, clawedBackCredits: 450 });
  expect((await earnedTransfers(app, referrer.id, 'referral_reward')).map((t) => t.amount)).toEqual([450]);
  expect((await earnedTransfers(app, referrer.id, 'referral_clawback')).map((t) => t.amount)).toEqual([-450]);
  expect(await referralOf(app, referee.id)).toMatchObject({ status: 'clawed_back' });
});

test('when the referrer pays, after the reward, with the card that paid for it, then the reward is taken back as same_card; another card changes nothing', async () => {
  const { referrer, referee } = await rewarded();
  await r.paid(referrer.apiKey, CARD_C);
  expect(await referralOf(app, referee.id)).toMatchObject({ status: 'rewarded' });

  await r.paid(referrer.apiKey, CARD_A);
  expect(await referralOf(app, referee.id)).toMatchObject({
    status: 'clawed_back',
    clawback_reason: 'same_card',
    clawed_back_credits: 450,
  });
  expect((await r.balance(referrer.apiKey)).buckets.earned).toMatchObject({ posted: 0 });
  expect((await r.referrals(referrer.apiKey)).referred).toEqual([
    expect.objectContaining({ status: 'clawed_back', clawbackReason: 'same_card', rewardCredits: 0 }),
  ]);
});

test('when the referrer and the referee pay with one card at the same moment, then no reward stays, whichever is recorded first', async () => {
  for (let round = 0; round < 3; round++) {
    const referrer = await r.signUp();
    const referee = await r.signUp(freshEmail('together'), referrer.referralCode);
    await Promise.all([r.paid(referrer.apiKey, CARD_A), r.paid(referee.apiKey, CARD_A)]);
    const referral = await referralOf(app, referee.id);
    expect(
      referral?.status === 'rejected'
        ? referral.reason
        : `${String(referral?.status)}:${String(referral?.clawback_reason)}`,
    ).toMatch(/^(same_card|clawed_back:same_card)$/);
    expect((await r.balance(referrer.apiKey)).buckets.earned).toMatchObject({ posted: 0 });
  }
});

test('when a reward taken back short comes back to the earned bucket (the usage that spent it is reversed), then its shortfall stays withheld from withdrawals, once', async () => {
  const { referrer, referee, paymentIntentId } = await rewarded();
  const spend = `usage:${referrer.id}:spent-reward`;
  await app.ledger.debit({
    idempotencyKey: spend,
    userId: referrer.id,
    amount: 450,
    kind: 'usage:conversation',
  });
  await app.services.stripe.refunds.create({ payment_intent: paymentIntentId });
  await refundSettled(app, paymentIntentId, 5000);
  expect(await referralOf(app, referee.id)).toMatchObject({ status: 'clawed_back', clawed_back_credits: 0 });

  // The spend comes back (as a usage reversal gives it back), and the referrer earns 1,000 more.
  await app.ledger.reverse({
    idempotencyKey: `usage-reversal:${referrer.id}:spent-reward`,
    operationKey: spend,
    kind: 'usage_reversal',
    capWithdrawable: true,
  });
  await app.ledger.credit({
    idempotencyKey: `test-earning:${referrer.id}`,
    userId: referrer.id,
    amount: 1000,
    from: 'creator_earnings',
    bucket: 'earned',
    kind: 'test_earning',
  });

  // 1,450 in the bucket, spendable; of it the reward (450) is still clearing and its shortfall
  // (450) withheld: 550 withdrawable (1,000 without the withholding, 1,450 once the reward clears).
  const balance = await r.api.get<{
    buckets: { earned: { posted: number; available: number; withdrawable: number } };
  }>('/v1/balance', referrer.apiKey);
  expect(balance.body.buckets.earned).toEqual(
    expect.objectContaining({ posted: 1450, available: 1450, withdrawable: 550 }),
  );
  const earned = await r.api.get<{
    pendingCredits: number;
    withdrawableCredits: number;
    withheldCredits: number;
  }>('/v1/earnings', referrer.apiKey);
  expect(earned.body).toMatchObject({ pendingCredits: 450, withdrawableCredits: 550, withheldCredits: 450 });
  const holdId = randomUUID();
  const refused = await app.ledger
    .hold({
      idempotencyKey: `withdrawal:${holdId}`,
      holdId,
      userId: referrer.id,
      amount: 551,
      kind: 'withdrawal',
      to: 'withdrawals',
      expiresInSeconds: 3600,
      bucket: 'earned',
      withdrawableOnly: true,
    })
    .catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(InsufficientWithdrawable);

  // Asked again (a retry, a dispute after the refund): still one withholding.
  await clawBackReferralReward(deps(), {
    purchaseId: (await referralOf(app, referee.id))!.purchase_id!,
    reason: 'disputed',
  });
  const [withheld] = await app.sql<{ n: number; credits: number }[]>`
    SELECT count(*)::int AS n, sum(w.amount)::int AS credits FROM withholdings w
    JOIN accounts a ON a.id = w.account_id WHERE a.user_id = ${referrer.id}`;
  expect(withheld).toEqual({ n: 1, credits: 450 });
});

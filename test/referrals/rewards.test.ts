import { projectsApi, tasks } from '../projects/support';
import { startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { sleep } from '../support/wait';
import { startTestWorker, type TestWorker } from '../support/worker';
import {
  CARD_A,
  CARD_B,
  CARD_C,
  earnedTransfers,
  freshEmail,
  referralOf,
  referralsApi,
  refundSettled,
} from './support';

/**
 * The reward on a referee's first purchase, through the real stack: HTTP, the purchase workflow
 * on a real worker, the stand-in's checkout and card fingerprints. The monthly cap is 3 here, so
 * the cap test needs four referees; rewards clear in 2 s (test default); projects re-check their
 * balance only every 10 minutes, so a resumed project was woken by the reward's top-up signal.
 */
const MONTHLY_CAP = 3;
let app: TestApp;
let worker: TestWorker;
let r: ReturnType<typeof referralsApi>;

beforeAll(async () => {
  app = await startTestApp({
    earning: { referrals: { rewardBp: 1000, maxRewardCredits: 5000, monthlyCap: MONTHLY_CAP } },
    projects: { recheckSeconds: 600, tasksPerRun: 50 },
  });
  worker = await startTestWorker(app);
  r = referralsApi(app);
});
afterAll(async () => {
  await worker.stop();
  await app.close();
});

async function referredPair(referrerEmail = freshEmail('referrer'), refereeEmail = freshEmail('friend')) {
  const referrer = await r.signUp(referrerEmail);
  const referee = await r.signUp(refereeEmail, referrer.referralCode);
  return { referrer, referee };
}

test("when a referred user's first purchase is credited, then the referrer earns 10% into the earned bucket, once", async () => {
  const { referrer, referee } = await referredPair();
  const { purchaseId } = await r.paid(referee.apiKey, CARD_A);
  const referral = await referralOf(app, referee.id);
  expect(referral).toMatchObject({ status: 'rewarded', purchase_id: purchaseId, reward_credits: 450 });
  expect(await earnedTransfers(app, referrer.id, 'referral_reward')).toEqual([
    { amount: 450, cause_type: 'referral', cause_id: referral!.id },
  ]);
  const balance = await r.balance(referrer.apiKey);
  expect(balance.buckets.earned.posted).toBe(450);
  expect(balance.buckets.purchased.posted).toBe(0);

  // A second purchase of the same referee is not a first purchase: nothing more.
  await r.paid(referee.apiKey, CARD_A);
  expect(await earnedTransfers(app, referrer.id, 'referral_reward')).toHaveLength(1);
  expect(await r.referrals(referrer.apiKey)).toMatchObject({
    referred: [{ status: 'rewarded', rewardCredits: 450 }],
    rewardsTotal: 450,
  });
  // The referee got their purchases and nothing else.
  expect((await r.balance(referee.apiKey)).available).toBe(9000);
});

test('when the first purchase is the 800 Club (100,000 credits), then the reward is capped at 5,000', async () => {
  const { referrer, referee } = await referredPair();
  await r.paid(referee.apiKey, CARD_A, 'club-800');
  expect(await earnedTransfers(app, referrer.id, 'referral_reward')).toEqual([
    expect.objectContaining({ amount: 5000 }),
  ]);
  expect((await r.referrals(referrer.apiKey)).rewardsTotal).toBe(5000);
});

test('when two first purchases of one referee complete at the same moment, then exactly one reward is paid', async () => {
  const { referrer, referee } = await referredPair();
  const first = await r.startBuying(referee.apiKey);
  const second = await r.startBuying(referee.apiKey, 'professional');
  await Promise.all([r.pay(first.checkoutUrl, CARD_A), r.pay(second.checkoutUrl, CARD_A)]);
  await Promise.all([r.completed(referee.apiKey, first.id), r.completed(referee.apiKey, second.id)]);

  const rewards = await earnedTransfers(app, referrer.id, 'referral_reward');
  expect(rewards).toHaveLength(1);
  const referral = await referralOf(app, referee.id);
  expect(referral!.status).toBe('rewarded');
  // The reward is the deciding purchase's: 450 for Starter, 1,000 for Professional.
  const decidedBy = referral!.purchase_id;
  expect([first.id, second.id]).toContain(decidedBy);
  expect(rewards[0]!.amount).toBe(decidedBy === first.id ? 450 : 1000);
  expect((await r.balance(referrer.apiKey)).buckets.earned.posted).toBe(rewards[0]!.amount);
});

test('when the referee pays with a card the referrer has paid with, then the referral is rejected as same_card; another card is rewarded', async () => {
  const referrer = await r.signUp();
  await r.paid(referrer.apiKey, CARD_B);
  const sameCard = await r.signUp(freshEmail('samecard'), referrer.referralCode);
  await r.paid(sameCard.apiKey, CARD_B);
  expect(await referralOf(app, sameCard.id)).toMatchObject({ status: 'rejected', reason: 'same_card' });
  expect(await earnedTransfers(app, referrer.id, 'referral_reward')).toEqual([]);

  const otherCard = await r.signUp(freshEmail('othercard'), referrer.referralCode);
  await r.paid(otherCard.apiKey, CARD_C);
  expect(await referralOf(app, otherCard.id)).toMatchObject({ status: 'rewarded', reward_credits: 450 });
  expect(await earnedTransfers(app, referrer.id, 'referral_reward')).toHaveLength(1);

  const [stored] = await app.sql<{ n: number }[]>`
    SELECT count(DISTINCT card_fingerprint)::int AS n FROM purchases
    WHERE user_id IN (${referrer.id}, ${sameCard.id}, ${otherCard.id})`;
  expect(stored!.n).toBe(2);
  expect((await r.referrals(referrer.apiKey)).referred).toEqual([
    expect.objectContaining({ status: 'rewarded', rewardCredits: 450 }),
    expect.objectContaining({ status: 'rejected', reason: 'same_card', rewardCredits: 0 }),
  ]);
});

test('when the referee is the referrer under another spelling (+tag, Gmail dots), then their purchase pays no reward', async () => {
  const referrer = await r.signUp(freshEmail('jo.doe', 'gmail.com'));
  const mailbox = referrer.email.split('@')[0]!.replace(/\./g, '');
  const tagged = await r.signUp(`${mailbox}+again@googlemail.com`, referrer.referralCode);
  await r.paid(tagged.apiKey, CARD_C);
  expect(await referralOf(app, tagged.id)).toMatchObject({
    status: 'rejected',
    reason: 'same_person',
    purchase_id: null,
  });
  expect(await earnedTransfers(app, referrer.id, 'referral_reward')).toEqual([]);
});

test('when a same-person referral was recorded before the sign-up check (signed_up), then the first purchase rejects it as same_person', async () => {
  // As a referral backfilled by the migration from users.referred_by would be.
  const referrer = await r.signUp(freshEmail('early'));
  const referee = await r.signUp(referrer.email.replace('@', '+old@'));
  await app.sql`
    INSERT INTO referrals (id, referrer_id, referee_id) VALUES (gen_random_uuid(), ${referrer.id}, ${referee.id})`;
  await r.paid(referee.apiKey, CARD_C);
  expect(await referralOf(app, referee.id)).toMatchObject({ status: 'rejected', reason: 'same_person' });
  expect(await earnedTransfers(app, referrer.id, 'referral_reward')).toEqual([]);
});

test('when more referees than the monthly cap buy at once, then exactly the cap is rewarded and the rest are rejected as monthly_cap', async () => {
  const referrer = await r.signUp();
  const referees = await Promise.all(
    Array.from({ length: MONTHLY_CAP + 2 }, () => r.signUp(freshEmail('capped'), referrer.referralCode)),
  );
  const started = await Promise.all(referees.map((x) => r.startBuying(x.apiKey)));
  await Promise.all(started.map((s) => r.pay(s.checkoutUrl, CARD_C)));
  await Promise.all(started.map((s, i) => r.completed(referees[i]!.apiKey, s.id)));

  const rows = await Promise.all(referees.map((x) => referralOf(app, x.id)));
  expect(rows.filter((x) => x!.status === 'rewarded')).toHaveLength(MONTHLY_CAP);
  expect(rows.filter((x) => x!.status === 'rejected')).toEqual([
    expect.objectContaining({ reason: 'monthly_cap' }),
    expect.objectContaining({ reason: 'monthly_cap' }),
  ]);
  expect(await earnedTransfers(app, referrer.id, 'referral_reward')).toHaveLength(MONTHLY_CAP);
  const view = await r.referrals(referrer.apiKey);
  expect(view.rewardsTotal).toBe(450 * MONTHLY_CAP);
  expect(view.referredCount).toBe(MONTHLY_CAP + 2);
});

test("when a reward is paid, then the referrer's project paused for credits resumes (the top-up signal)", async () => {
  const p = projectsApi(app);
  const { user: referrer, apiKey } = await fundedUser(app.sql, app.ledger, 25);
  const project = await p.start(apiKey, { name: 'waits for a reward', tasks: tasks(2, 'small') });
  await p.until(apiKey, project.id, 'paused', (x) => x.status === 'paused');
  const referee = await r.signUp(freshEmail('waker'), referrer.referralCode);
  await r.paid(referee.apiKey, CARD_C);
  const done = await p.until(apiKey, project.id, 'completed', (x) => x.status === 'completed', 20_000);
  expect(done).toMatchObject({ tasksCompleted: 2, creditsSpent: 50 });
});

test('when the rewarding purchase is refunded after the reward cleared, then the reward stays', async () => {
  const { referrer, referee } = await referredPair();
  const { paymentIntentId } = await r.paid(referee.apiKey, CARD_A);
  await sleep(2500); // the test app's clearing period is 2 s
  await app.services.stripe.refunds.create({ payment_intent: paymentIntentId });
  await refundSettled(app, paymentIntentId, 5000);
  expect((await r.balance(referee.apiKey)).available).toBe(0);
  expect(await referralOf(app, referee.id)).toMatchObject({ status: 'rewarded' });
  expect(await earnedTransfers(app, referrer.id, 'referral_clawback')).toEqual([]);
  expect((await r.balance(referrer.apiKey)).buckets.earned.posted).toBe(450);
});

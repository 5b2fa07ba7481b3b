import fc from 'fast-check';
import { referralLink } from '../../app/referrals';
import { decideReferral, maskEmail, normalizeEmail, rewardCredits, samePerson } from '../../domain/referrals';

const RULES = { rewardBp: 1000, maxRewardCredits: 5000, monthlyCap: 20 };
const facts = (over: Partial<Parameters<typeof decideReferral>[0]> = {}) => ({
  referrerEmail: 'alice@example.com',
  refereeEmail: 'bob@example.com',
  sharesCard: false,
  rewardsThisMonth: 0,
  purchaseCredits: 4500,
  ...over,
});

describe('same person by normalized email', () => {
  test.each([
    ['Alice@Example.com', 'alice@example.com'],
    ['alice+promo@example.com', 'alice@example.com'],
    ['alice+a+b@example.com', 'ALICE+c@EXAMPLE.COM'],
    ['a.l.i.c.e@gmail.com', 'alice@gmail.com'],
    ['A.Lice+x@GoogleMail.com', 'alice@gmail.com'],
    [' alice@example.com ', 'alice@example.com'],
  ])('when %s signs up with the code of %s, then they are the same person', (a, b) => {
    expect(samePerson(a, b)).toBe(true);
  });

  test.each([
    ['a.lice@example.com', 'alice@example.com'], // dots only matter at Gmail
    ['alice@example.com', 'alice@example.org'],
    ['alice2@gmail.com', 'alice@gmail.com'],
    ['alice@gmail.co', 'alice@gmail.com'],
  ])('when %s and %s differ beyond case, tags and Gmail dots, then they are different people', (a, b) => {
    expect(samePerson(a, b)).toBe(false);
  });

  test('when an email is normalized twice, then nothing more changes', () => {
    fc.assert(
      fc.property(fc.emailAddress(), (email) => {
        expect(normalizeEmail(normalizeEmail(email))).toBe(normalizeEmail(email));
      }),
    );
  });
});

describe('masked emails', () => {
  test.each([
    ['john@example.com', 'j***@example.com'],
    ['j@example.com', 'j***@example.com'],
    ['Émile.z@mail.example', 'É***@mail.example'],
    ['not-an-email', '***'],
  ])('when %s is shown to the referrer, then it reads %s', (email, shown) => {
    expect(maskEmail(email)).toBe(shown);
  });

  test('when any email is masked, then the mailbox beyond its first character never shows', () => {
    fc.assert(
      fc.property(fc.emailAddress(), (email) => {
        const local = email.slice(0, email.lastIndexOf('@'));
        const masked = maskEmail(email);
        expect(masked).toBe(`${local[0]}***${email.slice(email.lastIndexOf('@'))}`);
      }),
    );
  });
});

describe('reward amounts', () => {
  test.each([
    [4500, 450],
    [10_000, 1000],
    [100_000, 5000], // 10,000 capped at 5,000
    [9, 0],
    [19, 1], // rounded down
  ])('when the first purchase is %d credits, then the reward is %d', (credits, reward) => {
    expect(rewardCredits(credits, RULES)).toBe(reward);
  });

  test('when a purchase is huge, then the reward is exact integer arithmetic and never above the cap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000_000_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000_000 }),
        (credits, rewardBp, maxRewardCredits) => {
          const reward = rewardCredits(credits, { rewardBp, maxRewardCredits });
          const exact = (BigInt(credits) * BigInt(rewardBp)) / 10_000n;
          expect(BigInt(reward)).toBe(exact < BigInt(maxRewardCredits) ? exact : BigInt(maxRewardCredits));
        },
      ),
    );
  });
});

describe('the decision', () => {
  test('when nothing is wrong, then the referrer is rewarded 10% of the first purchase', () => {
    expect(decideReferral(facts(), RULES)).toEqual({ kind: 'reward', credits: 450 });
  });

  test('when the referee is the referrer by email, by card or over the monthly cap, then it is rejected with that reason', () => {
    expect(decideReferral(facts({ refereeEmail: 'Alice+2@example.com' }), RULES)).toEqual({
      kind: 'reject',
      reason: 'same_person',
    });
    expect(decideReferral(facts({ sharesCard: true }), RULES)).toEqual({
      kind: 'reject',
      reason: 'same_card',
    });
    expect(decideReferral(facts({ rewardsThisMonth: 20 }), RULES)).toEqual({
      kind: 'reject',
      reason: 'monthly_cap',
    });
    expect(decideReferral(facts({ rewardsThisMonth: 19 }), RULES)).toEqual({ kind: 'reward', credits: 450 });
  });

  test('when a self-referral also hits the cap, then it says same_person (identity first)', () => {
    expect(
      decideReferral(
        facts({ refereeEmail: 'alice@example.com', sharesCard: true, rewardsThisMonth: 99 }),
        RULES,
      ),
    ).toEqual({ kind: 'reject', reason: 'same_person' });
  });
});

describe('the referral link', () => {
  test('when PUBLIC_URL is set, then the link is built on it; else on the origin the caller used', () => {
    expect(referralLink('https://billing.example/', 'http://127.0.0.1:3000', 'AB12CD34')).toBe(
      'https://billing.example/signup?ref=AB12CD34',
    );
    expect(referralLink(undefined, 'http://127.0.0.1:3000', 'AB12CD34')).toBe(
      'http://127.0.0.1:3000/signup?ref=AB12CD34',
    );
  });
});

import { startTestApp, type TestApp } from '../support/app';
import { freshEmail, referralOf, referralsApi } from './support';

let app: TestApp;
let r: ReturnType<typeof referralsApi>;

beforeAll(async () => {
  app = await startTestApp();
  r = referralsApi(app);
});
afterAll(() => app.close());

async function usersWithEmail(email: string): Promise<number> {
  const [row] = await app.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM users WHERE lower(email) = lower(${email})`;
  return row!.n;
}

/** Posts the /signup form as a browser on this page would (same Origin). */
function postSignupForm(fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${app.url}/signup`, {
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: app.url, ...headers },
    redirect: 'manual',
  });
}

describe('POST /v1/users with a referral code', () => {
  test('when the code is unknown, then 400 names referralCode and nothing is created', async () => {
    const email = freshEmail('unknown');
    const res = await r.api.post<{ error: { code: string; message: string } }>('/v1/users', {
      email,
      referralCode: 'ZZZZ9999ZZ',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.message).toMatch(/^referralCode:/);
    expect(await usersWithEmail(email)).toBe(0);
  });

  test('when the code is known (in any case), then the referral is signed_up and the referrer sees it masked, with their link', async () => {
    const referrer = await r.signUp();
    const referee = await r.signUp(freshEmail('john'), referrer.referralCode.toLowerCase());
    expect(referee.referralCode).toMatch(/^[0-9A-F]{10}$/);
    expect(referee.referralCode).not.toBe(referrer.referralCode);
    expect(await referralOf(app, referee.id)).toMatchObject({ status: 'signed_up', reward_credits: 0 });

    const view = await r.referrals(referrer.apiKey);
    expect(view).toEqual({
      referralCode: referrer.referralCode,
      link: `${app.url}/signup?ref=${referrer.referralCode}`,
      referred: [
        {
          email: `j***@${referee.email.split('@')[1]}`,
          signedUpAt: expect.any(String),
          status: 'signed_up',
          rewardCredits: 0,
        },
      ],
      referredCount: 1,
      rewardsTotal: 0,
    });
    expect(view.referred[0]!.email).not.toContain(referee.email.split('@')[0]!.slice(1));
  });

  test.each([
    ['a +tag', 'alice', 'example.test', (mailbox: string) => `${mailbox}+second@example.test`],
    [
      'Gmail dots and googlemail.com',
      'al.ice',
      'gmail.com',
      (mailbox: string) => `A.l.${mailbox.slice(3)}@GoogleMail.com`,
    ],
  ])(
    'when the referee is the referrer under %s, then the sign-up succeeds and the referral is rejected as same_person',
    async (_, prefix, domain, alias) => {
      const referrer = await r.signUp(freshEmail(prefix, domain));
      const mailbox = referrer.email.split('@')[0]!;
      const referee = await r.signUp(alias(mailbox), referrer.referralCode);
      expect(await referralOf(app, referee.id)).toMatchObject({ status: 'rejected', reason: 'same_person' });
      const view = await r.referrals(referrer.apiKey);
      expect(view.referred).toEqual([
        expect.objectContaining({ status: 'rejected', reason: 'same_person', rewardCredits: 0 }),
      ]);
    },
  );

  test('when a user has referred no one, then GET /v1/referrals lists nothing; without a key it is 401', async () => {
    const loner = await r.signUp();
    expect(await r.referrals(loner.apiKey)).toMatchObject({
      referred: [],
      referredCount: 0,
      rewardsTotal: 0,
    });
    expect((await r.api.get('/v1/referrals')).status).toBe(401);
    expect((await r.api.get('/v1/referrals?limit=0', loner.apiKey)).status).toBe(400);
  });
});

describe('the /signup page', () => {
  test('when opened from a referral link, then the form is prefilled with the code; a bad code is not', async () => {
    const referrer = await r.signUp();
    const page = await fetch(`${app.url}/signup?ref=${referrer.referralCode.toLowerCase()}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).toContain('id="signup"');
    expect(html).toContain(
      `name="referralCode" autocomplete="off" spellcheck="false" value="${referrer.referralCode}"`,
    );
    expect(html).toContain('id="referral-note"');

    const bad = await (await fetch(`${app.url}/signup?ref=%22%3E%3Cscript%3Ealert(1)%3C/script%3E`)).text();
    expect(bad).not.toContain('<script>');
    expect(bad).toContain('not valid');
  });

  test('when the form is sent with an email and the code, then the account is made with the referral, the key is shown once and the browser is signed in to the credits page', async () => {
    const referrer = await r.signUp();
    const email = freshEmail('page');
    const res = await postSignupForm({ email, referralCode: referrer.referralCode });
    expect(res.status).toBe(201);
    const html = await res.text();
    const apiKey = /id="api-key" readonly spellcheck="false" value="(ck_[A-Za-z0-9_-]+)"/.exec(html)?.[1];
    expect(apiKey).toBeDefined();
    expect(res.headers.get('cache-control')).toBe('no-store');
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^credits_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain('HttpOnly');

    // The key works, and the new user is the referrer's referral.
    const me = await r.api.get<{ available: number }>('/v1/balance', apiKey);
    expect(me.status).toBe(200);
    const [user] = await app.sql<{ id: string }[]>`SELECT id FROM users WHERE email = ${email}`;
    expect(await referralOf(app, user!.id)).toMatchObject({ status: 'signed_up' });
    expect((await r.referrals(referrer.apiKey)).referredCount).toBe(1);

    // Continue: the credits page opens signed in by the cookie.
    const credits = await fetch(`${app.url}/usercredits`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(credits.status).toBe(200);
    const creditsHtml = await credits.text();
    expect(creditsHtml).toContain(`<span id="user-email">${email}</span>`);
    expect(creditsHtml).toContain('id="sign-out"');
  });

  test('when the form names an unknown code, then 400 says so and nothing is created', async () => {
    const email = freshEmail('pagebad');
    const res = await postSignupForm({ email, referralCode: 'ZZZZ9999ZZ' });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('id="signup-error"');
    expect(html).toContain('referral code');
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await usersWithEmail(email)).toBe(0);
  });

  test('when the form mangles the code field (referralCode[a], referralCode[]) or adds one, then 400 and nothing is created', async () => {
    const { referralCode } = await r.signUp();
    const mangled: Record<string, string>[] = [
      { 'referralCode[a]': referralCode },
      { 'referralCode[]': referralCode },
      { 'referralCode[__proto__]': referralCode },
      { referralCode, plan: 'free' },
    ];
    for (const fields of mangled) {
      const email = freshEmail('mangled');
      const res = await postSignupForm({ email, ...fields });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('does not have');
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(await usersWithEmail(email)).toBe(0);
    }
  });

  test('when the form is sent without a code, then the account is made without a referral', async () => {
    const email = freshEmail('plain');
    const res = await postSignupForm({ email, referralCode: '' });
    expect(res.status).toBe(201);
    const [user] = await app.sql<{ id: string }[]>`SELECT id FROM users WHERE email = ${email}`;
    expect(await referralOf(app, user!.id)).toBeNull();
  });

  test('when the form comes from another site, or the email is bad or taken, then it is refused and nothing is created', async () => {
    const email = freshEmail('csrf');
    const foreign = await postSignupForm({ email }, { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('set-cookie')).toBeNull();
    expect(await usersWithEmail(email)).toBe(0);

    expect((await postSignupForm({ email: 'not-an-email' })).status).toBe(400);

    const taken = await r.signUp();
    const again = await postSignupForm({ email: taken.email.toUpperCase() });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('already exists');
    expect(await usersWithEmail(taken.email)).toBe(1);
  });
});

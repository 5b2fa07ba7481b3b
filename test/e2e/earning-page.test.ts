import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { ADMIN_KEY, http, signUp, startTestApp, type TestApp } from '../support/app';
import { launchBrowser } from '../support/browser';
import { waitFor } from '../support/wait';
import { startTestWorker, type TestWorker } from '../support/worker';

/**
 * The credits page's earning side in a real headless Chromium (DESIGN.md §11): the referral link
 * and its copy button, referred sign-ups and their rewards, agent earnings, payout setup through
 * the stand-in's Connect onboarding, withdrawals and their refusals, and the page without JavaScript.
 */

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');
/** Upskilling costs 20 credits a training unit on the default rate card: 200 units = 4,000 credits. */
const TRAINING_UNITS = 200;
const CHARGE = TRAINING_UNITS * 20;
/** The creator's 30% share (creatorShareBp 3,000), rounded down: above the 1,000-credit minimum. */
const SHARE = Math.floor((CHARGE * 3000) / 10_000);
const MINIMUM_WITHDRAWAL = 1000;

let app: TestApp;
let worker: TestWorker;
let api: ReturnType<typeof http>;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp(), launchBrowser()]);
  worker = await startTestWorker(app);
  api = http(app.url);
});
afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await app?.close();
});
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

/** A fresh browser profile: its own cookies, nothing shared with other tests or users. */
async function newPage(
  options: BrowserContextOptions = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, ...options });
  contexts.push(context);
  return { context, page: await context.newPage() };
}

async function signedIn(apiKey: string, options: BrowserContextOptions = {}) {
  const opened = await newPage(options);
  const { page } = opened;
  await page.goto(`${app.url}/usercredits`);
  await page.fill('#apiKey', apiKey);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/usercredits/session') && r.request().method() === 'POST'),
    page.click('#sign-in button[type=submit]'),
  ]);
  expect(response.status()).toBe(303);
  await page.locator('#available').waitFor();
  return opened;
}

/** The parts of a page's form element these tests touch (the test's TypeScript has no DOM types). */
interface FormElement {
  checkValidity(): boolean;
  noValidate: boolean;
}

const text = async (page: Page, selector: string) => (await page.locator(selector).textContent())?.trim();
const credits = (n: number) => n.toLocaleString('en-US');

/** Reloads the page until `check` holds (what the page shows comes from webhooks and workflows). */
async function reloadUntil(page: Page, what: string, check: () => Promise<boolean>, timeoutMs = 20_000) {
  await waitFor(
    what,
    async () => {
      await page.reload();
      return check();
    },
    timeoutMs,
  );
}

/** Operator grant through the API (a fresh Idempotency-Key each time). */
async function grant(userId: string, amount: number): Promise<void> {
  const res = await api.post('/v1/admin/grants', { userId, credits: amount }, ADMIN_KEY, {
    'idempotency-key': randomUUID(),
  });
  expect(res.status).toBe(201);
}

/** `creator` publishes an agent and another user (granted credits) is charged for it: SHARE earned. */
async function earnFromAgent(creator: { apiKey: string }, name: string): Promise<{ agentId: string }> {
  const agent = await api.post<{ id: string; name: string }>('/v1/agents', { name }, creator.apiKey);
  expect(agent.status).toBe(201);
  const payer = await signUp(api);
  await grant(payer.id, CHARGE + 1000);
  const charged = await api.post<{ charged: number; agentId?: string }>(
    '/v1/usage',
    {
      eventId: `e2e-${randomUUID()}`,
      feature: 'upskilling',
      trainingUnits: TRAINING_UNITS,
      agentId: agent.body.id,
    },
    payer.apiKey,
  );
  expect(charged.status).toBe(201);
  expect(charged.body.charged).toBe(CHARGE);
  return { agentId: agent.body.id };
}

/** A payout account onboarded over the API and the stand-in (the page's own flow is test 2's). */
async function payoutsEnabled(user: { apiKey: string }): Promise<void> {
  const opened = await api.post<{ accountId: string }>('/v1/payout-account', {}, user.apiKey);
  expect(opened.status).toBeLessThan(300);
  app.standIn.completeOnboarding(opened.body.accountId);
}

async function withdrawals(apiKey: string) {
  const res = await api.get<{ data: { id: string; status: string; credits: number }[] }>(
    '/v1/withdrawals',
    apiKey,
  );
  expect(res.status).toBe(200);
  return res.body.data;
}

async function earned(apiKey: string) {
  const res = await api.get<{ totalCredits: number; pendingCredits: number; withdrawableCredits: number }>(
    '/v1/earnings',
    apiKey,
  );
  expect(res.status).toBe(200);
  return res.body;
}

test('when a user copies their referral link and a friend signs up with it and buys, then the page lists the friend and the reward', async () => {
  const referrer = await signUp(api);
  const link = `${app.url}/signup?ref=${referrer.referralCode}`;

  const { context, page } = await signedIn(referrer.apiKey);
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || /content security policy/i.test(message.text())) {
      consoleErrors.push(message.text());
    }
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
  const response = await page.reload();
  const csp = response!.headers()['content-security-policy']!;
  // Styles may be inline; scripts only the two allowed by their hashes (copy, project progress).
  const scriptSrc = csp
    .split(';')
    .map((d) => d.trim())
    .find((d) => d.startsWith('script-src'));
  expect(scriptSrc).toMatch(/^script-src 'sha256-[A-Za-z0-9+/]+=*' 'sha256-[A-Za-z0-9+/]+=*'$/);
  expect(await page.locator('script').count()).toBe(2);

  // The link, in a read-only field; nobody has used it yet.
  const field = page.locator('#referral-link');
  expect(await field.inputValue()).toBe(link);
  expect(await field.getAttribute('readonly')).not.toBeNull();
  expect(await text(page, '#referrals')).toContain('Nobody has signed up with your link yet.');
  expect(await text(page, '#copy-referral-link')).toBe('Copy');

  // Copy puts it on the clipboard and says so; the script ran under the page's CSP.
  await page.click('#copy-referral-link');
  await page.locator('#copy-referral-link', { hasText: 'Copied' }).waitFor();
  // (A string: the test's TypeScript has no DOM types; this runs in the page.)
  expect(await page.evaluate('navigator.clipboard.readText()')).toBe(link);
  expect(consoleErrors).toEqual([]);

  // A friend, in another browser, opens the link and signs up with the form.
  const friend = await newPage();
  const friendEmail = `friend-${process.pid}-${Date.now()}@example.test`;
  const signupResponse = await friend.page.goto(link);
  expect(signupResponse?.status()).toBe(200);
  expect(await text(friend.page, '#referral-note')).toContain('invited by a friend');
  expect(await friend.page.locator('#referralCode').inputValue()).toBe(referrer.referralCode.toUpperCase());
  await friend.page.fill('#email', friendEmail);
  const [posted] = await Promise.all([
    friend.page.waitForResponse((r) => r.url().endsWith('/signup') && r.request().method() === 'POST'),
    friend.page.click('#signup button[type=submit]'),
  ]);
  expect(posted.status()).toBe(201);
  await friend.page.locator('#signed-up').waitFor();
  expect(await text(friend.page, '#signed-up-email')).toBe(friendEmail);
  expect(await friend.page.locator('#api-key').inputValue()).toMatch(/^ck_/);
  await Promise.all([friend.page.waitForURL(/\/usercredits$/), friend.page.click('#continue')]);
  // Signed in by the sign-up itself: the credits page, not the sign-in form.
  expect(await text(friend.page, '#user-email')).toBe(friendEmail);
  expect(await friend.page.locator('form#sign-in').count()).toBe(0);

  // The referrer sees the sign-up, masked, not yet rewarded.
  await page.reload();
  const row = page.locator('tr.referred');
  expect(await row.count()).toBe(1);
  expect(await row.getAttribute('data-status')).toBe('signed_up');
  const masked = `${friendEmail[0]}***@example.test`;
  expect(await row.locator('td').first().textContent()).toBe(masked);
  expect(await row.textContent()).toContain('Signed up');
  expect(await page.content()).not.toContain(friendEmail);
  expect(await text(page, '#rewards-total')).toBe('0');

  // The friend buys Starter (4,500 credits) on the stand-in's checkout page and pays.
  await Promise.all([
    friend.page.waitForURL(/\/checkout\//),
    friend.page.click('.package[data-package-id=starter] button'),
  ]);
  await Promise.all([friend.page.waitForURL(/\/usercredits\?purchase=/), friend.page.click('#pay')]);
  await friend.page.locator('#purchase-status[data-status=completed]').waitFor({ timeout: 20_000 });
  expect(await text(friend.page, '#available')).toBe('4,500');

  // The referrer's page shows the reward: 10% of the first purchase's credits.
  const reward = 450;
  await reloadUntil(
    page,
    'the referral rewarded',
    async () => (await page.locator('tr.referred').getAttribute('data-status')) === 'rewarded',
  );
  expect(await text(page, 'tr.referred td.num')).toBe(credits(reward));
  expect(await text(page, 'tr.referred .status')).toBe('Rewarded');
  expect(await text(page, '#rewards-total')).toBe(credits(reward));
  // The reward is earned credits, spendable at once.
  expect(await text(page, '#available')).toBe(credits(reward));
  expect(consoleErrors).toEqual([]);
});

test('when a creator earns from their agent, sets up payouts and withdraws, then the page shows the earnings and the paid withdrawal', async () => {
  const creator = await signUp(api);
  const { page } = await signedIn(creator.apiKey);
  expect(await text(page, '#earnings')).toContain('No agent earnings yet');
  expect(await page.locator('form#payout-account').getAttribute('data-payouts-enabled')).toBe('false');
  expect(await page.locator('form#withdraw').count()).toBe(0);

  const { agentId } = await earnFromAgent(creator, 'Résumé Polisher');
  await page.reload();
  const row = page.locator(`tr.earning[data-agent-id="${agentId}"]`);
  expect(await row.locator('td').nth(0).textContent()).toBe('Résumé Polisher');
  expect(await row.locator('td').nth(1).textContent()).toBe('1');
  expect(await row.locator('td').nth(2).textContent()).toBe(credits(SHARE));
  expect(await text(page, '#earnings-total')).toBe(credits(SHARE));
  expect(await text(page, '#available')).toBe(credits(SHARE)); // spendable at once

  // Test apps clear earnings after 2 s: the share moves from "clearing" to "withdrawable".
  await reloadUntil(
    page,
    'the share withdrawable',
    async () => (await text(page, '#withdrawable')) === credits(SHARE),
  );
  expect(await text(page, '#pending-earnings')).toBe('0');

  // Payout setup: the stand-in's Connect onboarding page, then back to the credits page.
  const setUp = page.locator('form#payout-account button');
  expect(await setUp.textContent()).toBe('Set up payouts');
  await Promise.all([page.waitForURL(/\/connect\/onboarding\//), setUp.click()]);
  await Promise.all([page.waitForURL(/\/usercredits\?payout=return/), page.click('#complete')]);
  await page.locator('#available').waitFor();
  await reloadUntil(
    page,
    'payouts enabled',
    async () => (await page.locator('form#payout-account').getAttribute('data-payouts-enabled')) === 'true',
  );
  expect(await text(page, 'form#payout-account')).toContain('Payout account ready');

  // Withdraw the minimum with the form.
  await page.fill('form#withdraw input[name=credits]', String(MINIMUM_WITHDRAWAL));
  const [posted] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/usercredits/withdraw') && r.request().method() === 'POST'),
    page.click('form#withdraw button[type=submit]'),
  ]);
  expect(posted.status()).toBe(303);
  await page.waitForURL(`${app.url}/usercredits#withdrawals`);
  const pending = page.locator('tr.withdrawal[data-status="pending_approval"]');
  expect(await pending.count()).toBe(1);
  expect(await pending.textContent()).toContain('Waiting for approval');
  expect(await pending.locator('td.num').nth(0).textContent()).toBe('1,000');
  expect(await pending.locator('td.num').nth(1).textContent()).toBe('$10.00');
  expect(await text(page, '#withdrawable')).toBe(credits(SHARE - MINIMUM_WITHDRAWAL));
  const withdrawalId = (await pending.getAttribute('data-withdrawal-id'))!;

  // The operator approves over the API; the stand-in transfers $10.00 to the creator's account.
  const approved = await api.post<{ status: string }>(
    `/v1/admin/withdrawals/${withdrawalId}/approve`,
    {},
    ADMIN_KEY,
  );
  expect(approved.status).toBe(200);
  const paidRow = page.locator(`tr.withdrawal[data-withdrawal-id="${withdrawalId}"]`);
  await reloadUntil(
    page,
    'the withdrawal paid',
    async () => (await paidRow.getAttribute('data-status')) === 'paid',
  );
  expect(await paidRow.textContent()).toContain('Paid');
  expect(await text(page, '#withdrawable')).toBe(credits(SHARE - MINIMUM_WITHDRAWAL));
  expect(await text(page, '#available')).toBe(credits(SHARE - MINIMUM_WITHDRAWAL));
  expect(app.standIn.transfers.filter((t) => t.amount === 1000)).not.toHaveLength(0);

  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'credits-page-earning.png'), fullPage: true });
});

test('when a withdrawal is below the minimum, above the withdrawable, or posted by another site, then it is refused and nothing changes', async () => {
  const creator = await signUp(api);
  await earnFromAgent(creator, 'Refusal Tester');
  await payoutsEnabled(creator);
  await waitFor(
    'the share withdrawable',
    async () => (await earned(creator.apiKey)).withdrawableCredits === SHARE,
  );
  const { context, page } = await signedIn(creator.apiKey);
  await reloadUntil(
    page,
    'payouts enabled',
    async () => (await page.locator('form#payout-account').getAttribute('data-payouts-enabled')) === 'true',
  );
  expect(await text(page, '#withdrawable')).toBe(credits(SHARE));
  const balanceBefore = await text(page, '#available');

  /** Fills and submits the withdrawal form past the browser's own min/max checks (as an old browser would). */
  async function withdraw(amount: number) {
    await page.fill('form#withdraw input[name=credits]', String(amount));
    const form = page.locator('form#withdraw');
    const valid = await form.evaluate((f) => (f as unknown as FormElement).checkValidity());
    await form.evaluate((f) => {
      (f as unknown as FormElement).noValidate = true;
    });
    const [response] = await Promise.all([
      page.waitForResponse(
        (r) => r.url().endsWith('/usercredits/withdraw') && r.request().method() === 'POST',
      ),
      page.click('form#withdraw button[type=submit]'),
    ]);
    await page.waitForLoadState();
    return { status: response.status(), valid };
  }

  // Below the minimum: the browser's check flags it; the server refuses it anyway, in words.
  const below = await withdraw(MINIMUM_WITHDRAWAL - 1);
  expect(below).toEqual({ status: 400, valid: false });
  expect(await text(page, 'h1')).toBe('Withdrawal not possible');
  expect(await text(page, 'main p:first-of-type')).toMatch(/at least 1,?000/);
  expect(await page.locator('a[href="/usercredits"]').count()).toBe(1);

  // Above what is withdrawable: 402, with the reason.
  await page.goto(`${app.url}/usercredits`);
  const above = await withdraw(SHARE + 1);
  expect(above).toEqual({ status: 402, valid: false });
  expect(await text(page, 'h1')).toBe('Withdrawal not possible');
  const reason = (await text(page, 'main p:first-of-type'))!;
  expect(reason).toMatch(/up to 1,200 credits/);

  // Nothing changed.
  expect(await withdrawals(creator.apiKey)).toEqual([]);
  expect((await earned(creator.apiKey)).withdrawableCredits).toBe(SHARE);
  await page.goto(`${app.url}/usercredits`);
  expect(await text(page, '#withdrawable')).toBe(credits(SHARE));
  expect(await text(page, '#available')).toBe(balanceBefore);
  expect(await page.locator('tr.withdrawal').count()).toBe(0);

  // Another site posts the form with the session cookie: 403, nothing made.
  const cookie = (await context.cookies())[0]!;
  const crossSite = await fetch(`${app.url}/usercredits/withdraw`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      cookie: `${cookie.name}=${cookie.value}`,
      origin: 'http://evil.example',
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ credits: String(MINIMUM_WITHDRAWAL), requestId: randomUUID() }),
  });
  expect(crossSite.status).toBe(403);
  expect(await crossSite.text()).toContain('must be sent from the credits page itself');
  expect(await withdrawals(creator.apiKey)).toEqual([]);
  expect((await earned(creator.apiKey)).withdrawableCredits).toBe(SHARE);

  // The same post from the page's own origin is accepted: the refusal above was the Origin's.
  const sameSite = await fetch(`${app.url}/usercredits/withdraw`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      cookie: `${cookie.name}=${cookie.value}`,
      origin: app.url,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ credits: String(MINIMUM_WITHDRAWAL), requestId: randomUUID() }),
  });
  expect(sameSite.status).toBe(303);
  expect(await withdrawals(creator.apiKey)).toEqual([
    expect.objectContaining({ credits: MINIMUM_WITHDRAWAL, status: 'pending_approval' }),
  ]);
});

test('when JavaScript is off, then the referral link is still shown in a field the user can select', async () => {
  const user = await signUp(api);
  const { page } = await signedIn(user.apiKey, { javaScriptEnabled: false });
  const link = `${app.url}/signup?ref=${user.referralCode}`;
  const field = page.locator('#referral-link');
  expect(await field.isVisible()).toBe(true);
  expect(await field.inputValue()).toBe(link);
  expect(await field.isEditable()).toBe(false); // read-only, yet focusable and selectable

  // Select its text as a user would: click into it and select all.
  await field.click();
  await page.keyboard.press('ControlOrMeta+A');
  const selection = await field.evaluate((element) => {
    // Runs in the page; the test's TypeScript has no DOM types, hence the shapes spelled out.
    const input = element as unknown as { selectionStart: number; selectionEnd: number };
    const page = globalThis as unknown as {
      document: { activeElement: unknown };
      getComputedStyle(e: unknown): { userSelect: string };
    };
    return {
      start: input.selectionStart,
      end: input.selectionEnd,
      focused: page.document.activeElement === element,
      userSelect: page.getComputedStyle(element).userSelect,
    };
  });
  expect(selection).toMatchObject({ start: 0, end: link.length, focused: true });
  expect(selection.userSelect).not.toBe('none');

  // Without the script there is no Copy button to press in vain; the link stays as it was.
  expect(await page.locator('#copy-referral-link').isVisible()).toBe(false);
  expect(await field.inputValue()).toBe(link);
});

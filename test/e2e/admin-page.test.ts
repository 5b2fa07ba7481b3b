import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { OPERATOR_COOKIE } from '../../api/operator-session';
import { CARD_A, referralsApi } from '../referrals/support';
import { refundsApi } from '../refunds/support';
import { ADMIN_KEY, signUp, startTestApp, type TestApp } from '../support/app';
import { launchBrowser } from '../support/browser';
import { waitFor } from '../support/wait';
import { startTestWorker, type TestWorker } from '../support/worker';
import { withdrawalsApi } from '../withdrawals/support';

/**
 * DESIGN.md §12: the operator page (`/admin`), signed in with the operator key into a cookie
 * session with the credits page's rules, lists pending withdrawals with approve and reject, and
 * links every workflow to the Temporal Web UI. Checked in headless Chromium.
 */
const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');
const WEB_UI = 'http://127.0.0.1:8233';

let app: TestApp;
let worker: TestWorker;
let browser: Browser;
let w: ReturnType<typeof withdrawalsApi>;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp({ temporalUiUrl: WEB_UI }), launchBrowser()]);
  worker = await startTestWorker(app);
  w = withdrawalsApi(app);
});
afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await app?.close();
});
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  return { context, page: await context.newPage() };
}

/** Submits the operator sign-in form with `key`; resolves with the form post's status. */
async function signIn(page: Page, key: string): Promise<number> {
  await page.goto(`${app.url}/admin`);
  await page.fill('#operatorKey', key);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/admin/session') && r.request().method() === 'POST'),
    page.click('#admin-sign-in button[type=submit]'),
  ]);
  await page.waitForLoadState();
  return response.status();
}

/** A creator's pending withdrawal of 1,000 credits. */
async function pendingWithdrawal(): Promise<{ id: string; apiKey: string }> {
  const creator = await w.creator(1500);
  const res = await w.withdraw(creator.apiKey, { credits: 1000 });
  expect(res.status).toBe(201);
  return { id: res.body.id, apiKey: creator.apiKey };
}

const row = (page: Page, id: string) => page.locator(`tr.withdrawal[data-withdrawal-id="${id}"]`);

test('when the key is not the operator key, then sign-in answers 401 and sets no cookie', async () => {
  const { context, page } = await newPage();
  const user = await w.creator(0, { onboarded: false });
  expect(await signIn(page, user.apiKey)).toBe(401);
  expect(await page.locator('#admin-sign-in-error').textContent()).toContain('not the operator key');
  expect(await context.cookies()).toEqual([]);
  expect(await page.locator('#pending-withdrawals').count()).toBe(0);
});

test('when the operator signs in, then the session cookie is HttpOnly, SameSite=Lax and scoped to /admin', async () => {
  const { context, page } = await newPage();
  expect(await signIn(page, ADMIN_KEY)).toBe(303);
  const [cookie] = await context.cookies();
  expect(cookie).toMatchObject({ name: OPERATOR_COOKIE, httpOnly: true, sameSite: 'Lax', path: '/admin' });
  expect(cookie!.value).not.toContain(ADMIN_KEY);
  await page.locator('#pending-withdrawals').waitFor();
  // Signed out, the cookie stops working at once.
  await Promise.all([page.waitForURL(`${app.url}/admin`), page.click('#admin-sign-out button')]);
  expect(await page.locator('#admin-sign-in').count()).toBe(1);
});

test('when a withdrawal waits, then the operator approves it on the page and sees it paid, with its workflow linked', async () => {
  const pending = await pendingWithdrawal();
  const { page } = await newPage();
  expect(await signIn(page, ADMIN_KEY)).toBe(303);
  const waiting = row(page, pending.id);
  expect(await waiting.getAttribute('data-status')).toBe('pending_approval');
  expect(await waiting.locator('a.workflow-link').getAttribute('href')).toBe(
    `${WEB_UI}/namespaces/default/workflows/withdrawal-${pending.id}`,
  );
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'admin-page.png'), fullPage: true });

  await Promise.all([page.waitForURL(/\/admin/), waiting.locator('form.approve button').click()]);
  await waitFor('the withdrawal paid', async () => {
    if ((await w.get(pending.apiKey, pending.id)).body.status !== 'paid') return null;
    return true;
  });
  await page.reload();
  expect(await page.locator(`#pending-withdrawals tr[data-withdrawal-id="${pending.id}"]`).count()).toBe(0);
  expect(
    await page
      .locator(`#recent-withdrawals tr[data-withdrawal-id="${pending.id}"]`)
      .getAttribute('data-status'),
  ).toBe('paid');
  expect(w.transfersOf(pending.id)).toHaveLength(1);
});

test('when the operator rejects with a reason, then the user sees it rejected with that reason and the credits back', async () => {
  const pending = await pendingWithdrawal();
  const { page } = await newPage();
  expect(await signIn(page, ADMIN_KEY)).toBe(303);
  const waiting = row(page, pending.id);
  await waiting.locator('form.reject input[name=reason]').fill('payout details look wrong');
  await Promise.all([page.waitForURL(/\/admin/), waiting.locator('form.reject button').click()]);
  const rejected = await w.until(pending.apiKey, pending.id, 'rejected');
  expect(rejected.reason).toBe('payout details look wrong');
  expect(await w.earned(pending.apiKey)).toMatchObject({ held: 0, withdrawable: 1500 });

  // Deciding again from a stale page is a 409 that says why.
  const again = await page.request.post(`${app.url}/admin/withdrawals/${pending.id}/approve`, {
    headers: { origin: app.url },
    form: {},
  });
  expect(again.status()).toBe(409);
  expect(await again.text()).toContain('already rejected');
});

test('when a decision is posted from another site or without a session, then nothing is decided', async () => {
  const pending = await pendingWithdrawal();
  const { page } = await newPage();
  expect(await signIn(page, ADMIN_KEY)).toBe(303);
  const crossSite = await page.request.post(`${app.url}/admin/withdrawals/${pending.id}/approve`, {
    headers: { origin: 'http://evil.example' },
    form: {},
  });
  expect(crossSite.status()).toBe(403);
  const anonymous = await fetch(`${app.url}/admin/withdrawals/${pending.id}/approve`, { method: 'POST' });
  expect(anonymous.status).toBe(401);
  expect((await w.get(pending.apiKey, pending.id)).body.status).toBe('pending_approval');
  await w.decide(pending.id, 'reject');
});

test('when a user asks sales for a package, then the operator answers it on the page and only that user can buy it', async () => {
  const asker = await signUp(w.api);
  const other = await signUp(w.api);
  const asked = await w.api.post<{ id: string }>(
    '/v1/package-requests',
    { credits: 250_000, message: 'a year of agents for our team' },
    asker.apiKey,
  );
  expect(asked.status).toBe(201);

  const { page } = await newPage();
  expect(await signIn(page, ADMIN_KEY)).toBe(303);
  const request = page.locator(`tr.package-request[data-request-id="${asked.body.id}"]`);
  expect(await request.textContent()).toContain('a year of agents for our team');
  await request.locator('input[name=price]').fill('1,750.00');
  await Promise.all([page.waitForURL(/\/admin/), request.locator('form.answer-request button').click()]);

  const offered = await w.api.get<{ data: { id: string; credits: number; priceCents: number }[] }>(
    '/v1/packages',
    asker.apiKey,
  );
  const custom = offered.body.data.find((p) => p.credits === 250_000);
  expect(custom).toMatchObject({ priceCents: 175_000 });
  const seenByOther = await w.api.get<{ data: { id: string }[] }>('/v1/packages', other.apiKey);
  expect(seenByOther.body.data.map((p) => p.id)).not.toContain(custom!.id);
  expect(await page.locator(`tr.package-request[data-request-id="${asked.body.id}"]`).count()).toBe(0);
  const listed = page.locator(`tr.custom-package[data-package-id="${custom!.id}"]`);
  expect(await listed.getAttribute('data-status')).toBe('active');

  await Promise.all([page.waitForURL(/\/admin/), listed.locator('form.archive-package button').click()]);
  expect(
    await page.locator(`tr.custom-package[data-package-id="${custom!.id}"]`).getAttribute('data-status'),
  ).toBe('archived');
  const after = await w.api.get<{ data: { id: string }[] }>('/v1/packages', asker.apiKey);
  expect(after.body.data.map((p) => p.id)).not.toContain(custom!.id);
});

test('when the price typed on the answer form is not an amount, then nothing is created and the page says why', async () => {
  const asker = await signUp(w.api);
  const asked = await w.api.post<{ id: string }>('/v1/package-requests', { credits: 5000 }, asker.apiKey);
  const { page } = await newPage();
  expect(await signIn(page, ADMIN_KEY)).toBe(303);
  const request = page.locator(`tr.package-request[data-request-id="${asked.body.id}"]`);
  await request.locator('input[name=price]').fill('12.345');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/answer')),
    request.locator('form.answer-request button').click(),
  ]);
  expect(response.status()).toBe(400);
  expect(await page.locator('main').textContent()).toContain('a price such as 700.00');
  const requests = await w.api.get<{ data: { status: string }[] }>('/v1/package-requests', asker.apiKey);
  expect(requests.body.data.map((r) => r.status)).toEqual(['open']);
});

test('when a purchase was refunded by an operator and another disputed, then both show with their workflows', async () => {
  const buyers = referralsApi(app);
  const refunds = refundsApi(app);
  const refunded = await buyers.paid((await buyers.signUp()).apiKey, CARD_A);
  const disputed = await buyers.paid((await buyers.signUp()).apiKey, CARD_A);
  const refund = await refunds.refund({
    purchaseId: refunded.purchaseId,
    credits: 1000,
    reason: 'technical_issue',
  });
  expect(refund.status).toBe(201);
  await refunds.settled(refund.body.id);
  const dispute = app.standIn.openDispute(disputed.paymentIntentId);
  await waitFor('the dispute recorded', async () => {
    const res = await w.api.get<{ data: { id: string }[] }>('/v1/admin/disputes', ADMIN_KEY);
    return res.body.data.some((d) => d.id === dispute.id) ? true : null;
  });

  const { page } = await newPage();
  expect(await signIn(page, ADMIN_KEY)).toBe(303);
  const refundRow = page.locator(`tr.refund[data-refund-id="${refund.body.id}"]`);
  expect(await refundRow.getAttribute('data-status')).toBe('succeeded');
  expect(await refundRow.textContent()).toContain('$11.11');
  expect(await refundRow.locator('a.workflow-link').getAttribute('href')).toBe(
    `${WEB_UI}/namespaces/default/workflows/operator-refund-${refund.body.id}`,
  );
  const disputeRow = page.locator(`tr.dispute[data-dispute-id="${dispute.id}"]`);
  expect(await disputeRow.locator('a.workflow-link').getAttribute('href')).toBe(
    `${WEB_UI}/namespaces/default/workflows/dispute-${dispute.id}`,
  );
  app.standIn.closeDispute(dispute.id, 'won');
});

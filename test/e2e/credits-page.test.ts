import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { SESSION_COOKIE } from '../../api/session';
import { http, signUp, startTestApp, type TestApp } from '../support/app';
import { launchBrowser } from '../support/browser';
import { checkout } from '../support/checkout';
import { waitFor } from '../support/wait';
import { startTestWorker, type TestWorker } from '../support/worker';

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');

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

/** A fresh browser profile: its own cookies, nothing shared with other tests. */
async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  contexts.push(context);
  return { context, page: await context.newPage() };
}

/** Fills the sign-in form and submits it; resolves with the form post's response status. */
async function submitKey(page: Page, apiKey: string): Promise<number> {
  await page.fill('#apiKey', apiKey);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/usercredits/session') && r.request().method() === 'POST'),
    page.click('#sign-in button[type=submit]'),
  ]);
  await page.waitForLoadState();
  return response.status();
}

async function signedIn(apiKey: string, path = '/usercredits') {
  const opened = await newPage();
  await opened.page.goto(`${app.url}${path}`);
  expect(await submitKey(opened.page, apiKey)).toBe(303);
  await opened.page.locator('#available').waitFor();
  return opened;
}

const text = async (page: Page, selector: string) => (await page.locator(selector).textContent())?.trim();

test('when a browser is not signed in, then /usercredits shows the sign-in form and no account data', async () => {
  const { page } = await newPage();
  const response = await page.goto(`${app.url}/usercredits`);
  expect(response?.status()).toBe(200);
  expect(response?.headers()['cache-control']).toBe('no-store');
  expect(await page.locator('form#sign-in input[name=apiKey]').count()).toBe(1);
  expect(await page.locator('#available').count()).toBe(0);
  expect(await page.locator('.package').count()).toBe(0);
});

test('when the key is wrong, then the form comes back with an error, status 401 and no cookie', async () => {
  const { context, page } = await newPage();
  await page.goto(`${app.url}/usercredits`);
  expect(await submitKey(page, 'ck_not-a-real-key')).toBe(401);
  expect(await text(page, '#sign-in-error')).toContain('not valid');
  expect(await page.locator('form#sign-in').count()).toBe(1);
  expect(await context.cookies()).toEqual([]);
});

test('when a user signs in, then the session cookie is HttpOnly, SameSite=Lax, site-wide, and not the API key', async () => {
  const user = await signUp(api);
  const { context, page } = await signedIn(user.apiKey);
  const cookies = await context.cookies();
  expect(cookies).toHaveLength(1);
  const cookie = cookies[0]!;
  expect(cookie).toMatchObject({ name: SESSION_COOKIE, httpOnly: true, sameSite: 'Lax', path: '/' });
  expect(cookie.value).not.toContain(user.apiKey);
  const days = (cookie.expires * 1000 - Date.now()) / 86_400_000;
  expect(days).toBeGreaterThan(29);
  expect(days).toBeLessThanOrEqual(30);
  expect(await text(page, '#user-email')).toBe(user.email);
  expect(await text(page, '#available')).toBe('0');
  expect(await text(page, '#held')).toBe('0');

  // The cookie alone authenticates the JSON API too.
  const balance = await api.raw('GET', '/v1/balance', {
    headers: { cookie: `${cookie.name}=${cookie.value}` },
  });
  expect(balance.status).toBe(200);

  // Signing out ends the session on the server: the old token no longer works anywhere.
  await Promise.all([page.waitForURL(`${app.url}/usercredits`), page.click('#sign-out button')]);
  expect(await page.locator('form#sign-in').count()).toBe(1);
  expect(await context.cookies()).toEqual([]);
  const replayed = await api.raw('GET', '/v1/balance', {
    headers: { cookie: `${cookie.name}=${cookie.value}` },
  });
  expect(replayed.status).toBe(401);
  const page2 = await api.raw<string>('GET', '/usercredits', {
    headers: { cookie: `${cookie.name}=${cookie.value}` },
  });
  expect(page2.body).toContain('id="sign-in"');
});

test('when a user buys Starter in the browser and pays, then the page shows 4,500 credits and the completed purchase', async () => {
  const user = await signUp(api);
  const { page } = await signedIn(user.apiKey);
  const starter = page.locator('.package[data-package-id=starter]');
  expect(await starter.locator('.name').textContent()).toBe('Starter Package');
  expect(await starter.locator('.credits').textContent()).toBe('4,500');
  expect(await starter.locator('.price').textContent()).toBe('$50');
  expect(await page.locator('.package[data-package-id=professional] .credits').textContent()).toBe('10,000');
  expect(await text(page, '#help h2')).toBe('Credits not appearing?');

  await Promise.all([page.waitForURL(/\/checkout\//), starter.locator('button').click()]);
  await Promise.all([page.waitForURL(/\/usercredits\?purchase=/), page.click('#pay')]);
  const purchaseId = new URL(page.url()).searchParams.get('purchase')!;

  // Pending shows "Payment received" and refreshes itself; the webhook completes it meanwhile.
  await page.locator('#purchase-status[data-status=completed]').waitFor({ timeout: 20_000 });
  expect(await text(page, '#purchase-status')).toBe('4,500 credits added');
  expect(await text(page, '#available')).toBe('4,500');
  expect(await page.locator('meta[http-equiv=refresh]').count()).toBe(0);
  const row = page.locator(`tr.purchase[data-purchase-id="${purchaseId}"]`);
  expect(await row.getAttribute('data-status')).toBe('completed');
  expect(await row.textContent()).toContain('Starter Package');

  // Spending shows in the usage summary; the receipt (sent after the credit) on a later load.
  const charged = await api.post<{ charged: number; balance: { available: number } }>(
    '/v1/usage',
    { feature: 'conversation', eventId: 'e2e-1', outputTokens: 2000 },
    user.apiKey,
  );
  expect(charged.status).toBe(201);
  await waitFor('receipt on the page', async () => {
    await page.reload();
    return (await page.locator('#notices').textContent())?.includes('Receipt: 4,500 credits');
  });
  // The receipt's money text comes from the one formatter the page's prices use.
  expect(await page.locator('#notices .mail[data-kind=receipt] pre').textContent()).toContain('Paid: $50.00');
  const spent = charged.body.charged;
  expect(await text(page, '#available')).toBe((4500 - spent).toLocaleString('en-US'));
  expect(await text(page, '#usage tr[data-feature=conversation]')).toContain('Agent conversations');
  expect(await text(page, '#usage-total')).toBe(spent.toLocaleString('en-US'));
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'credits-page.png'), fullPage: true });

  const purchases = await api.get<{ data: { id: string; status: string }[] }>('/v1/purchases', user.apiKey);
  expect(purchases.body.data).toEqual([expect.objectContaining({ id: purchaseId, status: 'completed' })]);
});

test('when the page is pending, then it says the payment was received and refreshes itself', async () => {
  const user = await signUp(api);
  const started = await api.post<{ id: string }>('/v1/purchases', { packageId: 'starter' }, user.apiKey);
  const res = await api.raw<string>('GET', `/usercredits?purchase=${started.body.id}`, { key: user.apiKey });
  expect(res.status).toBe(200);
  expect(res.body).toContain('Payment received — your credits are being added');
  expect(res.body).toContain('<meta http-equiv="refresh" content="1">');
});

test('when the user cancels on the checkout page, then the credits page says so and nothing is credited', async () => {
  const user = await signUp(api);
  const { page } = await signedIn(user.apiKey);
  await Promise.all([
    page.waitForURL(/\/checkout\//),
    page.click('.package[data-package-id=professional] button'),
  ]);
  await Promise.all([page.waitForURL(/cancelled=1/), page.click('#cancel')]);
  expect(await text(page, '#purchase-status')).toContain('Checkout cancelled');
  expect(await page.locator('#purchase-status').getAttribute('data-status')).toBe('cancelled');
  expect(await page.locator('meta[http-equiv=refresh]').count()).toBe(0);
  expect(await text(page, '#available')).toBe('0');
});

test('when an API client sends its bearer key, then it gets the credits page too; a bad key gets 401', async () => {
  const user = await signUp(api);
  const res = await api.raw<string>('GET', '/usercredits', { key: user.apiKey });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/html');
  expect(res.body).toContain('id="available">0<');
  expect(res.body).toContain(user.email);
  expect(res.body).toContain('data-package-id="starter"');
  expect((await api.raw('GET', '/usercredits', { key: 'ck_wrong' })).status).toBe(401);
});

test("when two users use the page, then neither sees the other's balance, purchases or receipts", async () => {
  const alice = await signUp(api);
  const bob = await signUp(api);
  const bought = await api.post<{ id: string; checkoutUrl: string }>(
    '/v1/purchases',
    { packageId: 'professional' },
    alice.apiKey,
  );
  expect((await checkout(bought.body.checkoutUrl, 'pay')).status).toBe(303);
  await waitFor('alice credited', async () => {
    const res = await api.get<{ available: number }>('/v1/balance', alice.apiKey);
    return res.body.available === 10_000;
  });

  // Bob opens Alice's return link: her purchase is "not found" for him, nothing of hers shows.
  const { page } = await signedIn(bob.apiKey, `/usercredits?purchase=${bought.body.id}`);
  expect(page.url()).toContain(`purchase=${bought.body.id}`); // sign-in returned to the link
  expect(await page.locator('#purchase-status').getAttribute('data-status')).toBe('unknown');
  expect(await text(page, '#available')).toBe('0');
  expect(await page.locator('tr.purchase').count()).toBe(0);
  const html = await page.content();
  expect(html).not.toContain(alice.email);
  expect(html).not.toContain('10,000 credits added');
  expect(await text(page, '#user-email')).toBe(bob.email);

  // Alice's own page has it all.
  const hers = await api.raw<string>('GET', `/usercredits?purchase=${bought.body.id}`, { key: alice.apiKey });
  expect(hers.body).toContain('10,000 credits added');
  expect(hers.body).not.toContain(bob.email);
});

test('when another site posts the Buy form with the cookie, then it is refused and nothing starts', async () => {
  const user = await signUp(api);
  const { context } = await signedIn(user.apiKey);
  const [cookie] = await context.cookies();
  const res = await fetch(`${app.url}/usercredits/buy`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      cookie: `${cookie!.name}=${cookie!.value}`,
      origin: 'http://evil.example',
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'packageId=starter',
  });
  expect(res.status).toBe(403);
  const purchases = await api.get<{ data: unknown[] }>('/v1/purchases', user.apiKey);
  expect(purchases.body.data).toEqual([]);
});

test('when a Buy form is sent twice (a double click, the second with its id in capitals), then one purchase starts and both go to its checkout', async () => {
  const user = await signUp(api);
  const { context, page } = await signedIn(user.apiKey);
  const [cookie] = await context.cookies();
  const requestId = await page
    .locator('.package[data-package-id=starter] input[name=requestId]')
    .inputValue();
  const post = (id: string) =>
    fetch(`${app.url}/usercredits/buy`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie: `${cookie!.name}=${cookie!.value}`,
        origin: app.url,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ packageId: 'starter', requestId: id }),
    });
  // The same UUID in either case is the same request (its idempotency key is built from it).
  const [first, second] = await Promise.all([post(requestId), post(requestId.toUpperCase())]);
  expect([first.status, second.status]).toEqual([303, 303]);
  expect(first.headers.get('location')).toContain('/checkout/');
  expect(second.headers.get('location')).toBe(first.headers.get('location'));
  const purchases = await api.get<{ data: unknown[] }>('/v1/purchases', user.apiKey);
  expect(purchases.body.data).toHaveLength(1);
});

test('when user data holds markup, then the page shows it as text', async () => {
  const user = await signUp(api);
  const id = `custom-${Date.now()}`;
  const name = '<img src=x onerror="alert(1)"> & Co';
  await app.sql`
    INSERT INTO packages (id, name, credits, price_cents, currency, visible_to_user_id, sort_order)
    VALUES (${id}, ${name}, 12345, 9999, 'usd', ${user.id}, 9)`;
  const res = await api.raw<string>('GET', '/usercredits', { key: user.apiKey });
  expect(res.body).not.toContain('<img');
  expect(res.body).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; Co');
  expect(res.body).toContain('$99.99');
  // Another user's custom package is not on their page.
  const other = await signUp(api);
  expect((await api.raw<string>('GET', '/usercredits', { key: other.apiKey })).body).not.toContain(id);
});

import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { DAY_MS } from '../../db/usage';
import { formatCredits, formatMoney } from '../../domain';
import { projectsApi, tasks } from '../projects/support';
import { refundsApi } from '../refunds/support';
import { ADMIN_KEY, http, signUp, startTestApp, type TestApp } from '../support/app';
import { seriousViolations } from '../support/axe';
import { useBrowser } from '../support/browser';
import { checkout } from '../support/checkout';
import { waitFor } from '../support/wait';
import { startTestWorker, type TestWorker } from '../support/worker';
import { withdrawalsApi } from '../withdrawals/support';

/**
 * Issue 17 item 4: the credits page charts usage by day and feature and shows the user's projects
 * with live progress (SSE); the operator page charts revenue, refunds and payouts by day. Charts
 * are server-rendered SVG with a table of the same numbers. Checked in headless Chromium, with
 * axe-core failing on serious or critical violations; screenshots go to test-artifacts/.
 *
 * Historic days: every charge and payment happens now, so the tests move some of their own rows
 * back by whole days with SQL (tests only). Transfers are immutable by trigger; the backdating
 * update runs with `session_replication_role = replica` in its own transaction, which skips that
 * trigger for it alone, and changes only `created_at` (no amount, so conservation still holds).
 */
const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');

let app: TestApp;
let worker: TestWorker;
let api: ReturnType<typeof http>;
let p: ReturnType<typeof projectsApi>;
const { newPage } = useBrowser({ viewport: { width: 1100, height: 900 } });

beforeAll(async () => {
  app = await startTestApp();
  // Tasks that take a while, so a project's progress can be watched moving.
  worker = await startTestWorker(app, { taskMs: 700, usageBp: 10_000 });
  api = http(app.url);
  p = projectsApi(app);
  await mkdir(ARTIFACTS, { recursive: true });
});
afterAll(async () => {
  await worker?.stop();
  await app?.close();
});

async function signedIn(apiKey: string, options: { bypassCSP?: boolean; javaScriptEnabled?: boolean } = {}) {
  const page = await newPage(options);
  await page.goto(`${app.url}/usercredits`);
  await page.fill('#apiKey', apiKey);
  await Promise.all([page.waitForURL(`${app.url}/usercredits`), page.click('#sign-in button[type=submit]')]);
  await page.locator('#available').waitFor();
  return page;
}

async function operatorPage(options: { bypassCSP?: boolean } = {}): Promise<Page> {
  const page = await newPage(options);
  await page.goto(`${app.url}/admin`);
  await page.fill('#operatorKey', ADMIN_KEY);
  await Promise.all([page.waitForURL(`${app.url}/admin`), page.click('#admin-sign-in button[type=submit]')]);
  await page.locator('#money-by-day').waitFor();
  return page;
}

/** The UTC day `n` days before today, as the charts name it. */
const day = (n: number) => new Date(Date.now() - n * DAY_MS).toISOString().slice(0, 10);

/** A Starter purchase paid on the stand-in's checkout page; its id once credited. */
async function paidPurchase(apiKey: string): Promise<string> {
  const started = await api.post<{ id: string; checkoutUrl: string }>(
    '/v1/purchases',
    { packageId: 'starter' },
    apiKey,
  );
  expect(started.status).toBe(201);
  expect((await checkout(started.body.checkoutUrl, 'pay')).status).toBe(303);
  await waitFor('purchase credited', async () => {
    const res = await api.get<{ status: string }>(`/v1/purchases/${started.body.id}`, apiKey);
    return res.body.status === 'completed' ? true : null;
  });
  return started.body.id;
}

/** One usage event through POST /v1/usage; what it cost. */
async function charge(apiKey: string, feature: 'conversation' | 'rag', eventId: string): Promise<number> {
  const body = feature === 'rag' ? { inputTokens: 4000 } : { outputTokens: 500 };
  const res = await api.post<{ charged: number }>('/v1/usage', { feature, eventId, ...body }, apiKey);
  expect(res.status).toBe(201);
  return res.body.charged;
}

/** Moves a usage event's transfers `days` days back (see the file's comment). */
async function backdateCharge(userId: string, eventId: string, days: number): Promise<void> {
  await app.sql.begin(async (tx) => {
    await tx`SET LOCAL session_replication_role = replica`;
    const moved = await tx`
      UPDATE transfers SET created_at = created_at - ${days} * interval '1 day'
      WHERE operation_key = ${`usage:${userId}:${eventId}`}`;
    expect(moved.count).toBeGreaterThan(0);
  });
}

/** Bars of a chart, by "day|series", as their data-value. */
async function barValues(page: Page, chart: string): Promise<Map<string, number>> {
  const bars = await page
    .locator(`#${chart} rect.bar`)
    .evaluateAll((rects) =>
      rects.map((r) => [
        `${r.getAttribute('data-category')}|${r.getAttribute('data-series')}`,
        Number(r.getAttribute('data-value')),
      ]),
    );
  return new Map(bars as [string, number][]);
}

/** A cell of a chart's table: the row of `category`, the column of `series`. */
const cell = (page: Page, chart: string, category: string, series: string) =>
  page.locator(`#${chart}-table tbody tr[data-category="${category}"] td[data-series="${series}"]`);

test('when a user has spent on two features over several days, then the credits page charts each day by feature, with a table of the same numbers', async () => {
  const user = await signUp(api);
  await paidPurchase(user.apiKey);
  const expected = new Map<string, number>();
  const spend = async (feature: 'conversation' | 'rag', daysAgo: number) => {
    const eventId = randomUUID();
    const charged = await charge(user.apiKey, feature, eventId);
    if (daysAgo > 0) await backdateCharge(user.id, eventId, daysAgo);
    const key = `${day(daysAgo)}|${feature}`;
    expected.set(key, (expected.get(key) ?? 0) + charged);
  };
  await spend('conversation', 0);
  await spend('conversation', 0);
  await spend('rag', 0);
  await spend('conversation', 2);
  await spend('rag', 5);
  await spend('rag', 5);

  const page = await signedIn(user.apiKey);
  const chart = page.locator('#usage-chart');
  expect(await chart.locator('svg').getAttribute('role')).toBe('img');
  expect(await barValues(page, 'usage-chart')).toEqual(expected);
  for (const [key, credits] of expected) {
    const [category, series] = key.split('|') as [string, string];
    expect((await cell(page, 'usage-chart', category, series).textContent())?.trim()).toBe(
      formatCredits(credits),
    );
  }
  // Quiet days are not rows; the picture still has all 30 days on its axis.
  expect(await page.locator('#usage-chart-table tbody tr').count()).toBe(3);
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  expect(await chart.locator('svg').getAttribute('aria-label')).toContain(`${formatCredits(total)} in all`);
  expect(await page.locator('#usage-total').textContent()).toBe(formatCredits(total));

  // Bar heights follow the numbers: each day's stack is as tall as its total says (±1 px rounding).
  const stacks = await chart
    .locator('rect.bar')
    .evaluateAll((rects) =>
      rects.map((r) => [r.getAttribute('data-category'), Number(r.getAttribute('height'))] as const),
    );
  const height = (d: string) => stacks.filter(([c]) => c === d).reduce((sum, [, h]) => sum + h, 0);
  const dayTotal = (d: string) =>
    [...expected].filter(([k]) => k.startsWith(d)).reduce((sum, [, v]) => sum + v, 0);
  const [tallest, other] = [day(0), day(5)].sort((a, b) => dayTotal(b) - dayTotal(a)) as [string, string];
  expect(
    Math.abs(height(other) - (height(tallest) * dayTotal(other)) / dayTotal(tallest)),
  ).toBeLessThanOrEqual(2);
  await chart.screenshot({ path: path.join(ARTIFACTS, 'usage-chart.png') });
  await page.screenshot({ path: path.join(ARTIFACTS, 'credits-page-charts.png'), fullPage: true });

  // Without JavaScript the chart and its numbers are all there: they are the page's own markup.
  const plain = await signedIn(user.apiKey, { javaScriptEnabled: false });
  expect(await barValues(plain, 'usage-chart')).toEqual(expected);
  expect(await plain.locator('#usage-chart-table tbody tr').count()).toBe(3);
});

test('when projects run while the credits page is open, then their progress bars move by themselves until completed', async () => {
  const user = await signUp(api);
  await p.grant(user.id, 5000);
  const first = await p.start(user.apiKey, { name: 'Rendered first', tasks: tasks(8, 'small') });
  const page = await signedIn(user.apiKey);
  let loads = 0;
  page.on('load', () => {
    loads += 1;
  });
  const firstRow = page.locator(`li.project[data-project-id="${first.id}"]`);
  expect(await firstRow.count()).toBe(1);
  // Every value the bar takes, recorded in the page (the harness is not bound by its CSP).
  await page.evaluate(`(() => {
    const bar = document.querySelector('li.project[data-project-id="${first.id}"] progress');
    const seen = (window.progressSeen = []);
    const record = () => seen.push(Number(bar.getAttribute('value') ?? -1));
    new MutationObserver(record).observe(bar, { attributes: true });
    record();
  })()`);

  // A project started after the page loaded gets its row from the stream too.
  const second = await p.start(user.apiKey, { name: 'Started later', tasks: tasks(2, 'small') });
  const secondRow = page.locator(`li.project[data-project-id="${second.id}"]`);
  await secondRow.waitFor();
  expect((await secondRow.locator('.project-name').textContent())?.trim()).toBe('Started later');

  // (Polled from here: waitForFunction would eval in the page, which its CSP forbids.)
  const seenSoFar = async () => (await page.evaluate('window.progressSeen')) as number[];
  await waitFor('a step in between', async () =>
    (await seenSoFar()).some((v) => v > 1 && v < 8) ? true : null,
  );
  await page.locator('#projects').screenshot({ path: path.join(ARTIFACTS, 'projects-running.png') });
  await page.locator(`li.project[data-project-id="${first.id}"][data-status="completed"]`).waitFor({
    timeout: 30_000,
  });
  expect(await firstRow.locator('progress').getAttribute('value')).toBe('8');
  expect(await firstRow.locator('progress').getAttribute('max')).toBe('8');
  expect((await firstRow.locator('.project-tasks').textContent())?.trim()).toBe('8 of 8 tasks done');
  expect((await firstRow.locator('.project-status').textContent())?.trim()).toBe('Completed');
  const seen = await seenSoFar();
  // It moved through steps in between, forwards only, and the page never reloaded.
  expect(seen.filter((v) => v > 0 && v < 8).length).toBeGreaterThanOrEqual(2);
  expect(seen.filter((v) => v >= 0)).toEqual([...seen.filter((v) => v >= 0)].sort((a, b) => a - b));
  await page.locator(`li.project[data-project-id="${second.id}"][data-status="completed"]`).waitFor();
  await page.locator('#projects').screenshot({ path: path.join(ARTIFACTS, 'projects-completed.png') });
  expect(loads).toBe(0);
});

test('when money comes in and goes out on different days, then the operator page charts revenue, refunds and payouts by day', async () => {
  const r = refundsApi(app);
  const w = withdrawalsApi(app);
  const earlier = day(3);
  const today = day(0);
  const page = await operatorPage();
  // Other tests of this run moved money today too: compare with what the chart said before.
  const before = await barValues(page, 'money-chart-usd');

  const buyer = await signUp(api);
  const old = await paidPurchase(buyer.apiKey);
  await app.sql`UPDATE purchases SET completed_at = completed_at - interval '3 days' WHERE id = ${old}`;
  const recent = await paidPurchase(buyer.apiKey);
  const refund = await r.refund({ purchaseId: recent, credits: 900, reason: 'unused' }, randomUUID());
  expect(refund.status).toBe(201);
  expect((await r.settled(refund.body.id)).status).toBe('succeeded');
  const creator = await w.creator(1500);
  const withdrawal = await w.withdraw(creator.apiKey, { credits: 1000 });
  expect(withdrawal.status).toBe(201);
  expect((await w.decide(withdrawal.body.id, 'approve')).status).toBe(200);
  await w.until(creator.apiKey, withdrawal.body.id, 'paid');

  await page.reload();
  const after = await barValues(page, 'money-chart-usd');
  const added = (category: string, series: string) => {
    const key = `${category}|${series}`;
    return (after.get(key) ?? 0) - (before.get(key) ?? 0);
  };
  expect(added(earlier, 'revenue')).toBe(5000);
  expect(added(today, 'revenue')).toBe(5000);
  expect(added(today, 'refunds')).toBe(refund.body.amountCents);
  expect(added(today, 'payouts')).toBe(withdrawal.body.amountCents);
  for (const [key, cents] of after) {
    const [category, series] = key.split('|') as [string, string];
    expect((await cell(page, 'money-chart-usd', category, series).textContent())?.trim()).toBe(
      formatMoney(cents, 'usd', { trimZeroFraction: true }),
    );
  }
  await page.locator('#money-by-day').screenshot({ path: path.join(ARTIFACTS, 'admin-money-chart.png') });
  await page.screenshot({ path: path.join(ARTIFACTS, 'admin-page-charts.png'), fullPage: true });
});

test('when axe-core checks the pages, then none has a serious or critical accessibility violation', async () => {
  const user = await signUp(api);
  await p.grant(user.id, 2000);
  await charge(user.apiKey, 'conversation', randomUUID());
  await charge(user.apiKey, 'rag', randomUUID());
  const project = await p.start(user.apiKey, { name: 'Checked', tasks: tasks(1, 'small') });
  await p.until(user.apiKey, project.id, 'completed', (x) => x.status === 'completed');

  const anonymous = await newPage({ bypassCSP: true });
  const findings: Record<string, unknown> = {};
  for (const where of ['/usercredits', '/admin', '/signup']) {
    await anonymous.goto(`${app.url}${where}`);
    findings[`${where} (signed out)`] = await seriousViolations(anonymous);
  }
  await anonymous.goto(`${app.url}/usercredits`);
  await anonymous.fill('#apiKey', 'ck_not-a-real-key');
  await Promise.all([anonymous.waitForLoadState(), anonymous.click('#sign-in button[type=submit]')]);
  await anonymous.locator('#sign-in-error').waitFor();
  findings['/usercredits (wrong key)'] = await seriousViolations(anonymous);

  const credits = await signedIn(user.apiKey, { bypassCSP: true });
  await credits.locator('#usage-chart').waitFor();
  findings['/usercredits (signed in)'] = await seriousViolations(credits);
  const operator = await operatorPage({ bypassCSP: true });
  findings['/admin (signed in)'] = await seriousViolations(operator);

  expect(findings).toEqual({
    '/usercredits (signed out)': [],
    '/admin (signed out)': [],
    '/signup (signed out)': [],
    '/usercredits (wrong key)': [],
    '/usercredits (signed in)': [],
    '/admin (signed in)': [],
  });
});

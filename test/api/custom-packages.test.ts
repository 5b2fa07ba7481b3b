import { randomUUID } from 'node:crypto';
import { ADMIN_KEY, http, signUp, startTestApp, type TestApp } from '../support/app';
import { checkout } from '../support/checkout';
import { sleep, waitFor } from '../support/wait';
import { startTestWorker, type TestWorker } from '../support/worker';

let app: TestApp;
let worker: TestWorker;
let api: ReturnType<typeof http>;

beforeAll(async () => {
  app = await startTestApp();
  worker = await startTestWorker(app);
  api = http(app.url);
});
afterAll(async () => {
  await worker?.stop();
  await app?.close();
});

interface PackageView {
  id: string;
  name: string;
  credits: number;
  priceCents: number;
  currency: string;
  pricePer1000Cents: number;
}

interface AdminPackageView extends PackageView {
  status: string;
  custom: boolean;
  visibleTo: string[] | null;
  expiresAt: string | null;
  maxPurchases: number | null;
  purchaseCount: number;
  pendingCount: number;
  slotsLeft: number | null;
  archivedAt: string | null;
}

interface ErrorBody {
  error: { code: string; message: string };
}

/** A valid custom package body for `visibleTo`, with a unique name so tests can find it. */
function packageBody(visibleTo: string[], overrides: Record<string, unknown> = {}) {
  return {
    name: `Enterprise ${randomUUID().slice(0, 8)}`,
    credits: 250_000,
    priceCents: 150_000,
    currency: 'usd',
    visibleTo,
    ...overrides,
  };
}

function createPackage(body: unknown, headers?: Record<string, string>) {
  return api.post<AdminPackageView & ErrorBody>('/v1/admin/packages', body, ADMIN_KEY, headers);
}

async function created(body: unknown): Promise<AdminPackageView> {
  const res = await createPackage(body);
  expect(res.status).toBe(201);
  return res.body;
}

async function visibleIds(key?: string): Promise<string[]> {
  const res = await api.get<{ data: PackageView[] }>('/v1/packages', key);
  expect(res.status).toBe(200);
  return res.body.data.map((p) => p.id);
}

function buy(key: string, packageId: string, headers?: Record<string, string>) {
  return api.post<{ id: string; status: string; checkoutUrl: string } & ErrorBody>(
    '/v1/purchases',
    { packageId },
    key,
    headers,
  );
}

/** The credits page's Buy form, posted as a browser on this site would (no cross-site headers). */
function buyOnPage(key: string, packageId: string) {
  return fetch(`${app.url}/usercredits/buy`, {
    method: 'POST',
    redirect: 'manual',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ packageId, requestId: randomUUID() }),
  });
}

async function page(key: string): Promise<string> {
  return (await api.raw<string>('GET', '/usercredits', { key })).body;
}

async function purchasesOf(userId: string, packageId: string) {
  return app.sql<{ id: string; status: string }[]>`
    SELECT id, status FROM purchases WHERE user_id = ${userId} AND package_id = ${packageId}`;
}

async function adminPackage(id: string): Promise<AdminPackageView> {
  const res = await api.get<{ data: AdminPackageView[] }>('/v1/admin/packages?limit=500', ADMIN_KEY);
  const found = res.body.data.find((p) => p.id === id);
  if (!found) throw new Error(`package ${id} not in the operator's list`);
  return found;
}

describe('price per 1,000 credits', () => {
  test('when anyone lists the default catalog, then each package shows its price per 1,000 credits', async () => {
    const res = await api.get<{ data: PackageView[] }>('/v1/packages');
    const catalog = res.body.data.filter((p) => ['starter', 'professional', 'club-800'].includes(p.id));
    expect(catalog.map((p) => [p.id, p.credits, p.priceCents, p.pricePer1000Cents])).toEqual([
      ['starter', 4500, 5000, 1111],
      ['professional', 10000, 10000, 1000],
      ['club-800', 100000, 80000, 800],
    ]);
  });

  test('when a user opens the credits page, then each card says its price per 1,000 credits', async () => {
    const user = await signUp(api);
    const html = await page(user.apiKey);
    const card = (id: string) => {
      const start = html.indexOf(`data-package-id="${id}"`);
      return html.slice(start, html.indexOf('</form>', start));
    };
    expect(card('starter')).toContain('$11.11 per 1,000 credits');
    expect(card('professional')).toContain('$10.00 per 1,000 credits');
    expect(card('club-800')).toContain('$8.00 per 1,000 credits');
  });

  test('when a package is priced in a zero-decimal currency, then its price per 1,000 has no decimals', async () => {
    const user = await signUp(api);
    const pkg = await created(packageBody([user.id], { currency: 'JPY', credits: 4500, priceCents: 5000 }));
    expect(pkg).toMatchObject({ currency: 'jpy', pricePer1000Cents: 1111 });
    expect(await page(user.apiKey)).toContain('¥1,111 per 1,000 credits');
  });
});

describe('who sees and buys a custom package', () => {
  test('when an operator makes a package for one user, then only that user sees it, in the API and on the page', async () => {
    const vip = await signUp(api);
    const other = await signUp(api);
    const pkg = await created(packageBody([vip.id]));
    expect(pkg).toMatchObject({
      status: 'active',
      custom: true,
      visibleTo: [vip.id],
      credits: 250_000,
      priceCents: 150_000,
      pricePer1000Cents: 600,
      purchaseCount: 0,
      slotsLeft: null,
    });
    expect(pkg.id).toMatch(/^custom-/);
    expect(await visibleIds(vip.apiKey)).toContain(pkg.id);
    expect(await visibleIds(other.apiKey)).not.toContain(pkg.id);
    expect(await visibleIds()).not.toContain(pkg.id);
    expect(await page(vip.apiKey)).toContain(`data-package-id="${pkg.id}"`);
    const theirs = await page(other.apiKey);
    expect(theirs).not.toContain(pkg.id);
    expect(theirs).not.toContain(pkg.name);
  });

  test('when someone it is not for buys it, by the API or the page form, then 404 and no purchase', async () => {
    const vip = await signUp(api);
    const other = await signUp(api);
    const pkg = await created(packageBody([vip.id]));
    const res = await buy(other.apiKey, pkg.id);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    expect((await buyOnPage(other.apiKey, pkg.id)).status).toBe(404);
    expect(await purchasesOf(other.id, pkg.id)).toEqual([]);
  });

  test('when the user it is for buys it and pays, then its credits arrive and the operator sees the sale', async () => {
    const vip = await signUp(api);
    const pkg = await created(packageBody([vip.id], { credits: 12_345, priceCents: 9_999 }));
    const started = await buy(vip.apiKey, pkg.id);
    expect(started.status).toBe(201);
    expect((await checkout(started.body.checkoutUrl, 'pay')).status).toBe(303);
    await waitFor('credits', async () => {
      const balance = await api.get<{ available: number }>('/v1/balance', vip.apiKey);
      return balance.body.available === 12_345;
    });
    await waitFor('completed', async () => (await purchasesOf(vip.id, pkg.id))[0]?.status === 'completed');
    expect(await adminPackage(pkg.id)).toMatchObject({ purchaseCount: 1, pendingCount: 0, status: 'active' });
  });

  test('when a package names an email, then a user who signs up later with it (in any case) sees and buys it', async () => {
    const address = `later-${randomUUID().slice(0, 8)}@example.test`;
    const pkg = await created(packageBody([address.toUpperCase()]));
    expect(pkg.visibleTo).toEqual([address]);
    const signed = await api.post<{ id: string; apiKey: string }>('/v1/users', {
      email: `Later${address.slice(5)}`,
    });
    expect(signed.status).toBe(201);
    expect(await visibleIds(signed.body.apiKey)).toContain(pkg.id);
    const started = await buy(signed.body.apiKey, pkg.id);
    expect(started.status).toBe(201);
    const stranger = await signUp(api);
    expect(await visibleIds(stranger.apiKey)).not.toContain(pkg.id);
  });
});

describe('limits: maxPurchases, expiry, archive', () => {
  test('when two checkouts race for the last slot, then exactly one starts and the package is sold out', async () => {
    const [a, b] = [await signUp(api), await signUp(api)];
    const pkg = await created(packageBody([a.id, b.id], { maxPurchases: 1 }));
    const answers = await Promise.all([buy(a.apiKey, pkg.id), buy(b.apiKey, pkg.id)]);
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
    const refused = answers.find((r) => r.status === 409)!;
    expect(refused.body.error.message).toContain('sold out');
    const rows = await app.sql`SELECT id FROM purchases WHERE package_id = ${pkg.id}`;
    expect(rows).toHaveLength(1);
    expect(await visibleIds(a.apiKey)).not.toContain(pkg.id);
    expect(await visibleIds(b.apiKey)).not.toContain(pkg.id);
    expect(await adminPackage(pkg.id)).toMatchObject({ status: 'sold_out', pendingCount: 1, slotsLeft: 0 });
  });

  test('when six checkouts race for two slots, then exactly two purchases are made', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => signUp(api)));
    const pkg = await created(
      packageBody(
        users.map((u) => u.id),
        { maxPurchases: 2 },
      ),
    );
    const answers = await Promise.all(users.map((u) => buy(u.apiKey, pkg.id)));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(2);
    expect(answers.filter((r) => r.status === 409)).toHaveLength(4);
    const [count] = await app.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM purchases WHERE package_id = ${pkg.id}`;
    expect(count!.n).toBe(2);
  });

  test('when a started checkout is retried with its Idempotency-Key, then it is the same purchase, not a second slot', async () => {
    const user = await signUp(api);
    const pkg = await created(packageBody([user.id], { maxPurchases: 1 }));
    const key = randomUUID();
    const [first, second] = await Promise.all([
      buy(user.apiKey, pkg.id, { 'idempotency-key': key }),
      buy(user.apiKey, pkg.id, { 'idempotency-key': key }),
    ]);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.id).toBe(first.body.id);
    const again = await buy(user.apiKey, pkg.id, { 'idempotency-key': key });
    expect(again.body.id).toBe(first.body.id);
    expect(await purchasesOf(user.id, pkg.id)).toHaveLength(1);
  });

  test('when a package expires, then nobody can start buying it, but a checkout started before completes', async () => {
    const [early, late] = [await signUp(api), await signUp(api)];
    const expiresAt = new Date(Date.now() + 2500).toISOString();
    const pkg = await created(packageBody([early.id, late.id], { expiresAt, credits: 777, priceCents: 700 }));
    expect(pkg.expiresAt).toBe(expiresAt);
    const key = randomUUID();
    const started = await buy(early.apiKey, pkg.id, { 'idempotency-key': key });
    expect(started.status).toBe(201);
    await sleep(Date.parse(expiresAt) - Date.now() + 200);

    expect(await visibleIds(late.apiKey)).not.toContain(pkg.id);
    const refused = await buy(late.apiKey, pkg.id);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('expired');
    expect((await buyOnPage(late.apiKey, pkg.id)).status).toBe(409);
    expect(await purchasesOf(late.id, pkg.id)).toEqual([]);
    expect((await adminPackage(pkg.id)).status).toBe('expired');

    // The checkout started before expiry is still the buyer's: the retry finds it, and it completes.
    const retried = await buy(early.apiKey, pkg.id, { 'idempotency-key': key });
    expect(retried.status).toBe(200);
    expect(retried.body.id).toBe(started.body.id);
    expect((await checkout(started.body.checkoutUrl, 'pay')).status).toBe(303);
    await waitFor('credits', async () => {
      const balance = await api.get<{ available: number }>('/v1/balance', early.apiKey);
      return balance.body.available === 777;
    });
  });

  test('when an operator archives a package, then it is hidden and new checkouts get 409; archiving again changes nothing', async () => {
    const user = await signUp(api);
    const pkg = await created(packageBody([user.id]));
    const archived = await api.raw<AdminPackageView>('DELETE', `/v1/admin/packages/${pkg.id}`, {
      key: ADMIN_KEY,
    });
    expect(archived.status).toBe(200);
    expect(archived.body).toMatchObject({ id: pkg.id, status: 'archived' });
    expect(archived.body.archivedAt).not.toBeNull();
    expect(await visibleIds(user.apiKey)).not.toContain(pkg.id);
    const refused = await buy(user.apiKey, pkg.id);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('no longer offered');
    expect(await purchasesOf(user.id, pkg.id)).toEqual([]);

    const again = await api.raw<AdminPackageView>('DELETE', `/v1/admin/packages/${pkg.id}`, {
      key: ADMIN_KEY,
    });
    expect(again.status).toBe(200);
    expect(again.body.archivedAt).toBe(archived.body.archivedAt);
    const unknown = await api.raw<ErrorBody>('DELETE', '/v1/admin/packages/custom-nope', { key: ADMIN_KEY });
    expect(unknown.status).toBe(404);
    // A catalog package is the product's, not a custom one: it cannot be archived here.
    const catalog = await api.raw<ErrorBody>('DELETE', '/v1/admin/packages/starter', { key: ADMIN_KEY });
    expect(catalog.status).toBe(404);
    expect(catalog.body.error.message).toBe('id: no custom package starter');
    expect((await api.get<{ data: { id: string }[] }>('/v1/packages')).body.data.map((p) => p.id)).toContain(
      'starter',
    );
  });

  test('when the operator lists packages, then each has its status and counts, and a status filter narrows the list', async () => {
    const user = await signUp(api);
    const active = await created(packageBody([user.id], { maxPurchases: 3 }));
    const archived = await created(packageBody([user.id]));
    await api.raw('DELETE', `/v1/admin/packages/${archived.id}`, { key: ADMIN_KEY });
    const all = await api.get<{ data: AdminPackageView[] }>('/v1/admin/packages?limit=500', ADMIN_KEY);
    expect(all.status).toBe(200);
    expect(all.body.data.find((p) => p.id === active.id)).toMatchObject({
      status: 'active',
      maxPurchases: 3,
      slotsLeft: 3,
      purchaseCount: 0,
      pendingCount: 0,
    });
    // The catalog is listed too, offered to everyone.
    expect(all.body.data.find((p) => p.id === 'starter')).toMatchObject({ custom: false, visibleTo: null });
    const onlyArchived = await api.get<{ data: AdminPackageView[] }>(
      '/v1/admin/packages?status=archived&limit=500',
      ADMIN_KEY,
    );
    expect(onlyArchived.body.data.map((p) => p.id)).toContain(archived.id);
    expect(onlyArchived.body.data.every((p) => p.status === 'archived')).toBe(true);
    const bad = await api.get<ErrorBody>('/v1/admin/packages?status=gone', ADMIN_KEY);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^status:/);
  });
});

describe('a checkout that expires frees its slot', () => {
  let shortApp: TestApp;
  let shortWorker: TestWorker;
  beforeAll(async () => {
    shortApp = await startTestApp({ purchases: { checkoutExpirySeconds: 2, pollIntervalSeconds: 1 } });
    shortWorker = await startTestWorker(shortApp);
  });
  afterAll(async () => {
    await shortWorker?.stop();
    await shortApp?.close();
  });

  test('when the only slot’s checkout expires unpaid, then the next buyer gets the slot', async () => {
    const shortApi = http(shortApp.url);
    const [first, next] = [await signUp(shortApi), await signUp(shortApi)];
    const res = await shortApi.post<AdminPackageView>(
      '/v1/admin/packages',
      packageBody([first.id, next.id], { maxPurchases: 1 }),
      ADMIN_KEY,
    );
    expect(res.status).toBe(201);
    const pkg = res.body;
    const started = await shortApi.post<{ id: string }>('/v1/purchases', { packageId: pkg.id }, first.apiKey);
    expect(started.status).toBe(201);
    expect((await shortApi.post('/v1/purchases', { packageId: pkg.id }, next.apiKey)).status).toBe(409);
    await waitFor('expired', async () => {
      const p = await shortApi.get<{ status: string }>(`/v1/purchases/${started.body.id}`, first.apiKey);
      return p.body.status === 'expired';
    });
    expect((await shortApi.post('/v1/purchases', { packageId: pkg.id }, next.apiKey)).status).toBe(201);
  });
});

describe('operator input and access', () => {
  test('when a user key (or none) is used on the operator routes, then 403 (or 401) and nothing is created', async () => {
    const user = await signUp(api);
    const body = packageBody([user.id]);
    const asUser = await api.post<ErrorBody>('/v1/admin/packages', body, user.apiKey);
    expect(asUser.status).toBe(403);
    expect((await api.get('/v1/admin/packages', user.apiKey)).status).toBe(403);
    expect((await api.raw('DELETE', '/v1/admin/packages/starter', { key: user.apiKey })).status).toBe(403);
    expect((await api.post('/v1/admin/packages', body)).status).toBe(401);
    const [count] = await app.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM packages WHERE name = ${body.name}`;
    expect(count!.n).toBe(0);
    expect(await visibleIds()).toContain('starter');
  });

  test('when the body is bad, then 400 naming the field and nothing is created', async () => {
    const user = await signUp(api);
    const cases: [string, Record<string, unknown>][] = [
      ['name', { name: '   ' }],
      ['name', { name: 'a\u0000b' }],
      ['credits', { credits: 0 }],
      ['credits', { credits: 1.5 }],
      ['credits', { credits: '100' }],
      ['credits', { credits: 2_000_000_000 }],
      ['priceCents', { priceCents: -1 }],
      ['priceCents', { priceCents: 100_000_000 }],
      ['currency', { currency: 'xyz' }],
      ['currency', { currency: 'us' }],
      ['visibleTo', { visibleTo: [] }],
      ['visibleTo', { visibleTo: 'someone@example.test' }],
      ['visibleTo', { visibleTo: Array.from({ length: 101 }, (_, i) => `u${i}@example.test`) }],
      ['visibleTo.0', { visibleTo: ['not an email'] }],
      ['visibleTo.1', { visibleTo: [user.id, randomUUID()] }],
      ['expiresAt', { expiresAt: '2020-01-01T00:00:00Z' }],
      ['expiresAt', { expiresAt: '2031-02-30T00:00:00Z' }],
      ['expiresAt', { expiresAt: 'tomorrow' }],
      ['maxPurchases', { maxPurchases: 0 }],
      ['requestId', { requestId: 'nope' }],
      ['requestId', { requestId: randomUUID() }],
      ['surprise', { surprise: true }],
    ];
    for (const [field, override] of cases) {
      // Found afterwards by its unique name or its unique viewer, whichever the case left valid.
      const marker = `${randomUUID()}@example.test`;
      const name = `Bad ${randomUUID()}`;
      const res = await createPackage(packageBody([user.id, marker], { name, ...override }));
      expect({ field, status: res.status }).toEqual({ field, status: 400 });
      expect({ field, message: res.body.error.message.split(':')[0] }).toEqual({ field, message: field });
      const [count] = await app.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM packages p
        WHERE p.name = ${name} OR EXISTS (SELECT 1 FROM package_viewers v WHERE v.package_id = p.id AND v.email = ${marker})`;
      expect({ field, created: count!.n }).toEqual({ field, created: 0 });
    }
    expect(await visibleIds(user.apiKey)).toEqual(['starter', 'professional', 'club-800']);
  });

  test('when the same Idempotency-Key is sent twice, then one package (200 replay); with another body, 409', async () => {
    const user = await signUp(api);
    const key = randomUUID();
    const body = packageBody([user.id]);
    const first = await createPackage(body, { 'idempotency-key': key });
    const replay = await createPackage(body, { 'idempotency-key': key });
    expect([first.status, replay.status]).toEqual([201, 200]);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(first.body.id);
    const conflict = await createPackage({ ...body, credits: 1 }, { 'idempotency-key': key });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('idempotency_conflict');
    const rows = await app.sql`SELECT id FROM packages WHERE name = ${body.name}`;
    expect(rows).toHaveLength(1);
  });
});

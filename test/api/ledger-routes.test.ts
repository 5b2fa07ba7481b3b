import { randomUUID } from 'node:crypto';
import { ADMIN_KEY, http, signUp, startTestApp, type TestApp } from '../support/app';

let app: TestApp;
let api: ReturnType<typeof http>;

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
});
afterAll(() => app.close());

function grant(
  userId: string,
  credits: number,
  key: string = randomUUID(),
  extra: Record<string, unknown> = {},
) {
  return api.post('/v1/admin/grants', { userId, credits, ...extra }, ADMIN_KEY, { 'idempotency-key': key });
}

describe('GET /v1/packages', () => {
  test('then the catalog is the product page’s, as integers', async () => {
    const res = await api.get<{ data: unknown[] }>('/v1/packages');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([
      {
        id: 'starter',
        name: 'Starter Package',
        credits: 4500,
        priceCents: 5000,
        currency: 'usd',
        pricePer1000Cents: 1111,
      },
      {
        id: 'professional',
        name: 'Professional',
        credits: 10000,
        priceCents: 10000,
        currency: 'usd',
        pricePer1000Cents: 1000,
      },
      {
        id: 'club-800',
        name: '800 Club',
        credits: 100000,
        priceCents: 80000,
        currency: 'usd',
        pricePer1000Cents: 800,
      },
    ]);
  });

  test('when a custom package is made for one user, then only that user sees it', async () => {
    const vip = await signUp(api);
    const other = await signUp(api);
    await app.sql`INSERT INTO packages (id, name, credits, price_cents, currency, visible_to_user_id, sort_order)
                  VALUES (${`vip-${Date.now()}`}, 'Enterprise', 1000000, 700000, 'usd', ${vip.id}, 9)`;
    const mine = await api.get<{ data: { name: string }[] }>('/v1/packages', vip.apiKey);
    const theirs = await api.get<{ data: { name: string }[] }>('/v1/packages', other.apiKey);
    expect(mine.body.data.map((p) => p.name)).toContain('Enterprise');
    expect(theirs.body.data.map((p) => p.name)).not.toContain('Enterprise');
  });
});

describe('POST /v1/admin/grants', () => {
  test('when an operator grants credits, then 201 and the balance shows them', async () => {
    const user = await signUp(api);
    const res = await grant(user.id, 1500);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ userId: user.id, credits: 1500, available: 1500 });
    expect((await api.get('/v1/balance', user.apiKey)).body).toMatchObject({
      available: 1500,
      posted: 1500,
      held: 0,
    });
  });

  test('when the same Idempotency-Key is sent twice, then it is credited once; with another body, 409', async () => {
    const user = await signUp(api);
    const key = randomUUID();
    expect((await grant(user.id, 100, key)).status).toBe(201);
    expect((await grant(user.id, 100, key)).body).toMatchObject({ credits: 100, available: 100 });
    const conflict = await grant(user.id, 200, key);
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ error: { code: 'idempotency_conflict' } });
    expect((await api.get('/v1/balance', user.apiKey)).body).toMatchObject({ available: 100 });
  });

  test('when earned credits are granted, then they land in the earned bucket', async () => {
    const user = await signUp(api);
    await grant(user.id, 70, randomUUID(), { bucket: 'earned' });
    const res = await api.get<{ buckets: { earned: { available: number } } }>('/v1/balance', user.apiKey);
    expect(res.body.buckets.earned.available).toBe(70);
  });

  test('when a user key is used, then 403; without a key, 401; with a wrong key, 401', async () => {
    const user = await signUp(api);
    expect((await api.post('/v1/admin/grants', { userId: user.id, credits: 1 }, user.apiKey)).status).toBe(
      403,
    );
    expect((await api.post('/v1/admin/grants', { userId: user.id, credits: 1 })).status).toBe(401);
    expect((await api.post('/v1/admin/grants', { userId: user.id, credits: 1 }, 'wrong-key')).status).toBe(
      401,
    );
    expect((await api.get('/v1/balance', user.apiKey)).body).toMatchObject({ available: 0 });
  });

  test.each([
    [{ userId: undefined, credits: 10 }, 'userId'],
    [{ userId: 'abc', credits: 10 }, 'userId'],
    [{ credits: 0 }, 'credits'],
    [{ credits: -5 }, 'credits'],
    [{ credits: 2.5 }, 'credits'],
    [{ credits: '10' }, 'credits'],
    [{ credits: 1e15 }, 'credits'],
    [{ credits: 10, bucket: 'gold' }, 'bucket'],
    [{ credits: 10, extra: 1 }, 'extra'],
  ])('when the body is %j, then 400 names %s and nothing moves', async (body, field) => {
    const user = await signUp(api);
    const res = await api.post<{ error: { code: string; message: string } }>(
      '/v1/admin/grants',
      { userId: user.id, ...body },
      ADMIN_KEY,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.message.startsWith(`${field}:`)).toBe(true);
    expect((await api.get('/v1/balance', user.apiKey)).body).toMatchObject({ available: 0 });
  });

  test('when the user does not exist, then 404', async () => {
    const res = await grant(randomUUID(), 10);
    expect(res.status).toBe(404);
  });

  test('when the Idempotency-Key is malformed, then 400 names it', async () => {
    const user = await signUp(api);
    const res = await grant(user.id, 10, 'x'.repeat(300));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { message: expect.stringMatching(/^Idempotency-Key:/) } });
  });
});

describe('GET /v1/transactions', () => {
  test('when a user has many entries, then pages come newest first and the cursor walks them all once', async () => {
    const user = await signUp(api);
    for (let i = 1; i <= 7; i++) await grant(user.id, i);
    await app.ledger.debit({
      idempotencyKey: randomUUID(),
      userId: user.id,
      amount: 3,
      kind: 'usage',
      description: 'chat',
    });
    const seen: { id: number; amount: number }[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/v1/transactions?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await api.get<{ data: { id: number; amount: number }[]; nextCursor: string | null }>(
        path,
        user.apiKey,
      );
      expect(res.status).toBe(200);
      seen.push(...res.body.data);
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen.map((t) => t.amount)).toEqual([-3, 7, 6, 5, 4, 3, 2, 1]);
    expect(new Set(seen.map((t) => t.id)).size).toBe(8);
  });

  test('when another user asks, then they see only their own entries', async () => {
    const a = await signUp(api);
    const b = await signUp(api);
    await grant(a.id, 10);
    const res = await api.get<{ data: unknown[] }>('/v1/transactions', b.apiKey);
    expect(res.body.data).toEqual([]);
  });

  test.each([['limit=0'], ['limit=101'], ['limit=abc'], ['cursor=-1'], ['cursor=abc'], ['sort=asc']])(
    'when the query is %s, then 400',
    async (query) => {
      const user = await signUp(api);
      const res = await api.get(`/v1/transactions?${query}`, user.apiKey);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'validation_error' } });
    },
  );
});

describe('operations endpoints', () => {
  test('GET /healthz checks Postgres and Temporal', async () => {
    const res = await api.get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', checks: { postgres: 'ok', temporal: 'ok' } });
  });

  test('GET /metrics exposes the HTTP latency histogram and ledger counters', async () => {
    const user = await signUp(api);
    await grant(user.id, 5);
    const res = await api.get<string>('/metrics');
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/http_request_duration_seconds_bucket\{.*route="\/v1\/admin\/grants".*\}/);
    expect(res.body).toMatch(/ledger_operations_total\{kind="grant"\} [1-9]/);
  });

  test('when the operator key is not configured, then operator routes answer 403 and say why', async () => {
    const bare = await startTestApp({ adminApiKey: undefined });
    try {
      const res = await http(bare.url).post('/v1/admin/grants', {}, 'anything');
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: { message: expect.stringContaining('ADMIN_API_KEY') } });
    } finally {
      await bare.close();
    }
  });
});

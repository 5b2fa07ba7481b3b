import { randomUUID } from 'node:crypto';
import {
  availableOf,
  charge,
  type ErrorResponse,
  estimate,
  grant,
  type UsageEvent,
  usageEvent,
} from '../metering/support';
import { http, signUp, startTestApp, type TestApp } from '../support/app';

let app: TestApp;
let api: ReturnType<typeof http>;

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
});
afterAll(() => app.close());

interface Notice {
  id: number;
  kind: string;
  recipient: string;
  subject: string;
  body: string;
  createdAt: string;
}

function put(path: string, json: unknown, key: string) {
  return api.raw<{ lowBalanceThreshold: number | null } & ErrorResponse>('PUT', path, { key, json });
}

async function lowBalanceNotices(key: string): Promise<Notice[]> {
  const res = await api.get<{ data: Notice[] }>('/v1/notifications?kind=low_balance', key);
  expect(res.status).toBe(200);
  return res.body.data;
}

/** A user whose threshold is `threshold`, funded with `credits`; and the price of one test event. */
async function watchedUser(threshold: number | null, credits: number) {
  const user = await signUp(api);
  expect((await put('/v1/settings', { lowBalanceThreshold: threshold }, user.apiKey)).status).toBe(200);
  if (credits > 0) await grant(api, user.id, credits);
  return user;
}

const EVENT: Omit<UsageEvent, 'eventId'> = { feature: 'conversation', outputTokens: 1000 };

/**
 * A user watching 10 credits who crosses below them, is topped up above them by a grant, and
 * charges until below them again: two crossings.
 */
async function crossedTwice() {
  const user = await watchedUser(10, 12);
  await charge(api, user.apiKey, { ...EVENT, eventId: randomUUID() });
  await grant(api, user.id, 100);
  let balance = await availableOf(api, user.apiKey);
  while (balance >= 10)
    balance = (await charge(api, user.apiKey, { ...EVENT, eventId: randomUUID() })).body.balance;
  return user;
}

describe('GET/PUT /v1/settings', () => {
  test('when a user signs up, then the low-balance threshold is 1,000 credits', async () => {
    const user = await signUp(api);
    const res = await api.get('/v1/settings', user.apiKey);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ lowBalanceThreshold: 1000 });
  });

  test('when the threshold is changed or turned off, then GET shows it', async () => {
    const user = await signUp(api);
    expect((await put('/v1/settings', { lowBalanceThreshold: 250 }, user.apiKey)).body).toEqual({
      lowBalanceThreshold: 250,
    });
    expect((await api.get('/v1/settings', user.apiKey)).body).toEqual({ lowBalanceThreshold: 250 });
    expect((await put('/v1/settings', { lowBalanceThreshold: null }, user.apiKey)).status).toBe(200);
    expect((await api.get('/v1/settings', user.apiKey)).body).toEqual({ lowBalanceThreshold: null });
    expect((await put('/v1/settings', { lowBalanceThreshold: 0 }, user.apiKey)).status).toBe(200);
  });

  test('when one user changes their threshold, then another user’s is untouched', async () => {
    const [a, b] = [await signUp(api), await signUp(api)];
    await put('/v1/settings', { lowBalanceThreshold: 5 }, a.apiKey);
    expect((await api.get('/v1/settings', b.apiKey)).body).toEqual({ lowBalanceThreshold: 1000 });
  });

  test.each<[string, unknown]>([
    ['a string', { lowBalanceThreshold: '100' }],
    ['negative', { lowBalanceThreshold: -1 }],
    ['fractional', { lowBalanceThreshold: 10.5 }],
    ['huge', { lowBalanceThreshold: 1e15 }],
    ['missing', {}],
    ['next to an unknown field', { lowBalanceThreshold: 10, email: 'x@example.test' }],
  ])('when the threshold is %s, then 400 names the field and nothing changes', async (_name, body) => {
    const user = await signUp(api);
    const res = await put('/v1/settings', body, user.apiKey);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^(lowBalanceThreshold|email): /);
    expect((await api.get('/v1/settings', user.apiKey)).body).toEqual({ lowBalanceThreshold: 1000 });
  });

  test('when the threshold is changed through another API instance, then GET here shows it at once', async () => {
    const other = await startTestApp();
    try {
      const user = await signUp(api);
      expect((await api.get('/v1/settings', user.apiKey)).body).toEqual({ lowBalanceThreshold: 1000 });
      await http(other.url).raw('PUT', '/v1/settings', {
        key: user.apiKey,
        json: { lowBalanceThreshold: 7 },
      });
      expect((await api.get('/v1/settings', user.apiKey)).body).toEqual({ lowBalanceThreshold: 7 });
    } finally {
      await other.close();
    }
  });

  test('when no API key is sent, then 401', async () => {
    expect((await api.get('/v1/settings')).status).toBe(401);
    expect((await put('/v1/settings', { lowBalanceThreshold: 1 }, '')).status).toBe(401);
  });
});

describe('low-balance notices', () => {
  test('when concurrent debits cross the threshold, then exactly one notice is sent, not one per debit', async () => {
    const threshold = 100;
    const user = await watchedUser(threshold, 1000);
    const price = (await estimate(api, user.apiKey, EVENT)).body.credits;
    // Enough debits to go from 1000 to well below the threshold, all at once.
    const count = Math.ceil((1000 - threshold / 2) / price);
    const results = await Promise.all(
      Array.from({ length: count }, () => charge(api, user.apiKey, { ...EVENT, eventId: randomUUID() })),
    );
    expect(results.every((r) => r.status === 201 || r.status === 402)).toBe(true);
    const left = await availableOf(api, user.apiKey);
    expect(left).toBeLessThan(threshold);
    const below = results.filter((r) => r.status === 201 && r.body.balance < threshold);
    expect(below.length).toBeGreaterThan(1);

    const notices = await lowBalanceNotices(user.apiKey);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({
      kind: 'low_balance',
      recipient: user.email,
      subject: 'Your balance is below 100 credits',
    });
    // The notice names the balance right after the crossing debit: the highest balance below the threshold.
    const crossing = Math.max(...below.map((r) => r.body.balance));
    expect(notices[0]!.body).toContain(`now ${crossing.toLocaleString('en-US')} credits`);

    // More debits below the threshold send nothing more.
    for (let i = 0; i < 3 && (await availableOf(api, user.apiKey)) >= price; i++) {
      expect((await charge(api, user.apiKey, { ...EVENT, eventId: randomUUID() })).status).toBe(201);
    }
    expect(await lowBalanceNotices(user.apiKey)).toHaveLength(1);
  });

  test('when the threshold was just changed, then the very next debit is judged by the new one', async () => {
    const user = await signUp(api);
    await grant(api, user.id, 2000);
    // Authenticated (and so remembered) with the default threshold of 1,000 first.
    expect((await charge(api, user.apiKey, usageEvent())).status).toBe(201);
    await put('/v1/settings', { lowBalanceThreshold: 1995 }, user.apiKey);
    const res = await charge(api, user.apiKey, { ...EVENT, eventId: randomUUID() });
    expect(res.body.balance).toBeLessThan(1995);
    const notices = await lowBalanceNotices(user.apiKey);
    expect(notices.map((n) => n.subject)).toEqual(['Your balance is below 1,995 credits']);
  });

  test('when debits go one by one across the threshold, then the debit that crosses it sends the one notice', async () => {
    const user = await watchedUser(10, 20);
    const seen: number[] = [];
    let balance = 20;
    while (balance >= 2) {
      const res = await charge(api, user.apiKey, usageEvent()); // a bare conversation message
      expect(res.status).toBe(201);
      balance = res.body.balance;
      seen.push((await lowBalanceNotices(user.apiKey)).length);
    }
    // 0 notices while at or above 10, then exactly 1 from the first balance below 10 on.
    const firstBelow = seen.indexOf(1);
    expect(firstBelow).toBeGreaterThan(0);
    expect(seen.slice(0, firstBelow).every((n) => n === 0)).toBe(true);
    expect(seen.slice(firstBelow).every((n) => n === 1)).toBe(true);
  });

  test('when a replayed debit is sent again, then no second notice', async () => {
    const user = await watchedUser(10, 12);
    const event = { ...EVENT, eventId: randomUUID() };
    expect((await charge(api, user.apiKey, event)).status).toBe(201);
    expect(await lowBalanceNotices(user.apiKey)).toHaveLength(1);
    expect((await charge(api, user.apiKey, event)).status).toBe(200);
    expect(await lowBalanceNotices(user.apiKey)).toHaveLength(1);
  });

  test('when a top-up lifts the balance back above the threshold, then the next crossing sends a new notice', async () => {
    const user = await crossedTwice();
    expect(await lowBalanceNotices(user.apiKey)).toHaveLength(2);
  });

  test('when the threshold is off, or the balance was already below it, then no notice', async () => {
    const off = await watchedUser(null, 20);
    const already = await watchedUser(1000, 20); // starts below: nothing was crossed
    for (const user of [off, already]) {
      for (let i = 0; i < 3; i++) await charge(api, user.apiKey, usageEvent());
      expect(await lowBalanceNotices(user.apiKey)).toEqual([]);
    }
  });

  test('when a 402 refuses a debit that would have crossed the threshold, then it sends no notice', async () => {
    // Just above the threshold, so charging the refused event (wrongly) would cross it.
    const user = await watchedUser(10, 12);
    const costly = { ...EVENT, outputTokens: 10_000 };
    expect((await estimate(api, user.apiKey, costly)).body.credits).toBeGreaterThan(12);
    expect((await charge(api, user.apiKey, { ...costly, eventId: randomUUID() })).status).toBe(402);
    expect(await availableOf(api, user.apiKey)).toBe(12);
    expect(await lowBalanceNotices(user.apiKey)).toEqual([]);

    // Control: this user's crossing debit does show a notice, so the empty list above is no blind spot.
    const res = await charge(api, user.apiKey, { ...EVENT, eventId: randomUUID() });
    expect(res.status).toBe(201);
    expect(res.body.balance).toBeLessThan(10);
    expect(await lowBalanceNotices(user.apiKey)).toHaveLength(1);
  });
});

describe('GET /v1/notifications', () => {
  test('when another user has notices, then they are not shown to this user', async () => {
    const noisy = await watchedUser(10, 12);
    await charge(api, noisy.apiKey, { ...EVENT, eventId: randomUUID() });
    expect(await lowBalanceNotices(noisy.apiKey)).toHaveLength(1);
    const quiet = await signUp(api);
    expect((await api.get('/v1/notifications', quiet.apiKey)).body).toEqual({ data: [] });
  });

  test('when no kind is given, then every notice shows, newest first, up to the limit', async () => {
    const user = await crossedTwice();
    const all = await api.get<{ data: Notice[] }>('/v1/notifications', user.apiKey);
    expect(all.body.data).toHaveLength(2);
    expect(all.body.data[0]!.id).toBeGreaterThan(all.body.data[1]!.id);
    const one = await api.get<{ data: Notice[] }>('/v1/notifications?limit=1', user.apiKey);
    expect(one.body.data.map((n) => n.id)).toEqual([all.body.data[0]!.id]);
  });

  test.each<[string, string]>([
    ['kind=sms', 'kind'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['since=yesterday', 'since'],
  ])('when the query is %s, then 400 names %s', async (query, field) => {
    const user = await signUp(api);
    const res = await api.get<ErrorResponse>(`/v1/notifications?${query}`, user.apiKey);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(new RegExp(`^${field}: `));
  });

  test('when no API key is sent, then 401', async () => {
    expect((await api.get('/v1/notifications')).status).toBe(401);
  });
});

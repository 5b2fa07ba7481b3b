import { randomUUID } from 'node:crypto';
import { priceUsage, type TaskSize, taskPrice, ValidationError } from '../../domain';
import { availableOf, LAUNCH_CARD, launchCard } from '../metering/support';
import { ADMIN_KEY, http, signUp, startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { BAD_TEXT, expectRefused, PROTOTYPE_NAMES, rawRequest } from '../support/hostile';

/**
 * Issue 13, item 1: every class of bad input answers 4xx naming the field (never 500) and moves
 * nothing. One block per class; each table lists every route and field the class reaches.
 */

let app: TestApp;
let api: ReturnType<typeof http>;

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
});
afterAll(async () => {
  // Rate cards are global: leave the launch prices current for the files that run after this one.
  await api.post(
    '/v1/admin/rate-cards',
    { note: 'launch prices again (test cleanup)', card: LAUNCH_CARD },
    ADMIN_KEY,
  );
  await app.close();
});

interface ErrorBody {
  error: { code: string; message: string };
}

/** What a user has that bad input could change: balance, projects, purchases. */
async function footprint(user: { id: string; apiKey: string }) {
  const [row] = await app.sql<{ projects: number; purchases: number; operations: number }[]>`
    SELECT (SELECT count(*)::int FROM projects WHERE user_id = ${user.id}) AS projects,
           (SELECT count(*)::int FROM purchases WHERE user_id = ${user.id}) AS purchases,
           (SELECT count(*)::int FROM transfers t JOIN accounts a ON a.id IN (t.debit_account_id, t.credit_account_id)
             WHERE a.user_id = ${user.id}) AS operations`;
  return { ...row!, available: await availableOf(api, user.apiKey) };
}

async function latestRateCardVersion(): Promise<number> {
  const [row] = await app.sql<{ version: number }[]>`SELECT max(version)::int AS version FROM rate_cards`;
  return row!.version;
}

describe('strings Postgres cannot store or that mean nothing', () => {
  type Case = [
    route: string,
    field: string,
    send: (bad: string, key: string) => Promise<{ status: number; body: unknown }>,
  ];
  const task = (title: string) => [{ title }];
  const cases: Case[] = [
    [
      'POST /v1/usage',
      'eventId',
      (bad, key) => api.post('/v1/usage', { feature: 'conversation', eventId: bad }, key),
    ],
    [
      'POST /v1/usage',
      'model',
      (bad, key) =>
        api.post('/v1/usage', { feature: 'conversation', eventId: randomUUID(), model: bad }, key),
    ],
    [
      'POST /v1/estimates (usage)',
      'model',
      (bad, key) => api.post('/v1/estimates', { feature: 'rag', model: bad }, key),
    ],
    [
      'POST /v1/estimates (project)',
      'name',
      (bad, key) => api.post('/v1/estimates', { name: bad, tasks: task('t') }, key),
    ],
    [
      'POST /v1/estimates (project)',
      'tasks.0.title',
      (bad, key) => api.post('/v1/estimates', { tasks: task(bad) }, key),
    ],
    ['POST /v1/estimates (project)', 'prompt', (bad, key) => api.post('/v1/estimates', { prompt: bad }, key)],
    [
      'POST /v1/projects',
      'name',
      (bad, key) => api.post('/v1/projects', { name: bad, tasks: task('t') }, key),
    ],
    [
      'POST /v1/projects',
      'tasks.0.title',
      (bad, key) => api.post('/v1/projects', { name: 'p', tasks: task(bad) }, key),
    ],
    ['POST /v1/projects', 'prompt', (bad, key) => api.post('/v1/projects', { name: 'p', prompt: bad }, key)],
    ['POST /v1/purchases', 'packageId', (bad, key) => api.post('/v1/purchases', { packageId: bad }, key)],
  ];

  test.each(cases)(
    'when %s gets a bad %s, then each bad string is a 400 naming it and nothing moves',
    async (_route, field, send) => {
      const user = await fundedUser(app.sql, app.ledger, 1000);
      const who = { id: user.user.id, apiKey: user.apiKey };
      const before = await footprint(who);
      for (const [name, bad] of Object.entries(BAD_TEXT)) {
        // The prompt is free text: tabs and line breaks are allowed in it, but not as all of it.
        const res = await send(bad, user.apiKey);
        expect({ name, status: res.status }).toEqual({ name, status: 400 });
        expectRefused(res, field);
      }
      expect(await footprint(who)).toEqual(before);
    },
  );

  test('when a free-text field has lines and tabs around visible text, then they are accepted', async () => {
    const user = await signUp(api);
    const res = await api.post(
      '/v1/estimates',
      { prompt: 'Write the intro.\n\tThen the summary.\r\n' },
      user.apiKey,
    );
    expect(res.status).toBe(200);
  });

  test('when an operator grant or a rate card carries a bad string, then 400 naming it and nothing moves', async () => {
    const user = await fundedUser(app.sql, app.ledger, 10);
    const who = { id: user.user.id, apiKey: user.apiKey };
    const before = { user: await footprint(who), version: await latestRateCardVersion() };
    for (const [name, bad] of Object.entries(BAD_TEXT)) {
      const grant = await api.post(
        '/v1/admin/grants',
        { userId: who.id, credits: 5, reason: bad },
        ADMIN_KEY,
      );
      expect({ name, status: grant.status }).toEqual({ name, status: 400 });
      expectRefused(grant, 'reason');
      const note = await api.post('/v1/admin/rate-cards', { note: bad, card: LAUNCH_CARD }, ADMIN_KEY);
      expectRefused(note, 'note');
      const card = structuredClone(LAUNCH_CARD);
      card.models.default = bad;
      expectRefused(await api.post('/v1/admin/rate-cards', { card }, ADMIN_KEY), 'card.models.default');
    }
    expect({ user: await footprint(who), version: await latestRateCardVersion() }).toEqual(before);
  });

  test('when a sign-up email carries a bad string, then 400 naming email and no user is made', async () => {
    const userCount = async () =>
      (await app.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM users`)[0]!.n;
    const before = await userCount();
    for (const [name, bad] of Object.entries(BAD_TEXT)) {
      const res = await api.post('/v1/users', { email: `x${bad}y@example.test` });
      expect({ name, status: res.status }).toEqual({ name, status: 400 });
      expectRefused(res, 'email');
      expectRefused(await api.post('/v1/users', { email: bad }), 'email');
    }
    expect(await userCount()).toBe(before);
  });

  test('when a path parameter is a control character, blank, or not UTF-8, then 400 naming it', async () => {
    const user = await signUp(api);
    for (const raw of ['%00', '%07', '%20%20', '%E2%80%8B', '%7F']) {
      expectRefused(await api.get(`/v1/projects/${raw}`, user.apiKey), 'id');
      expectRefused(await api.get(`/v1/projects/${raw}/events`, user.apiKey), 'id');
      expectRefused(await api.raw('POST', `/v1/projects/${raw}/cancel`, { key: user.apiKey }), 'id');
      expectRefused(await api.get(`/v1/purchases/${raw}`, user.apiKey), 'id');
      expectRefused(await api.get(`/v1/rate-cards/${raw}`), 'version');
    }
    // A lone surrogate cannot be sent as UTF-8; its bytes (ED A0 80) are not UTF-8: still a 4xx.
    for (const path of ['/v1/projects/%ED%A0%80', '/v1/purchases/%ED%A0%80', '/v1/rate-cards/%ED%A0%80']) {
      const res = await api.get(path, user.apiKey);
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
    }
  });

  test('when a query parameter is a control character or blank, then 400 naming it', async () => {
    const user = await signUp(api);
    for (const raw of ['%00', '%1B', '%20', '%E2%80%8B', '%ED%A0%80']) {
      expectRefused(await api.get(`/v1/transactions?cursor=${raw}`, user.apiKey), 'cursor');
      expectRefused(await api.get(`/v1/transactions?limit=${raw}`, user.apiKey), 'limit');
      expectRefused(await api.get(`/v1/usage/summary?from=${raw}`, user.apiKey), 'from');
      expectRefused(await api.get(`/v1/usage/summary?to=${raw}`, user.apiKey), 'to');
      expectRefused(await api.get(`/v1/notifications?kind=${raw}`, user.apiKey), 'kind');
      expectRefused(await api.get(`/v1/projects?limit=${raw}`, user.apiKey), 'limit');
      expectRefused(await api.get(`/v1/purchases?limit=${raw}`, user.apiKey), 'limit');
      expectRefused(await api.get(`/v1/receipts?limit=${raw}`, user.apiKey), 'limit');
      const page = await api.get(`/usercredits?purchase=${raw}`, user.apiKey);
      expect(page.status).toBe(400);
    }
  });

  test('when the request line and headers are over 16 KB, or the bytes are not HTTP, then the error shape still answers', async () => {
    const user = await signUp(api);
    const long = await rawRequest(app.url, {
      method: 'GET',
      path: `/v1/balance?x=${'a'.repeat(20_000)}`,
      headers: { authorization: `Bearer ${user.apiKey}` },
    });
    expect(long.status).toBe(431);
    expect(long.head).toMatch(/content-type: application\/json/i);
    expect(JSON.parse(long.body)).toEqual({
      error: { code: 'headers_too_large', message: expect.stringMatching(/^headers: /) },
    });
    const garbage = await rawRequest(app.url, { method: 'GET', path: '/v1/balance HTTP/9\u0000' });
    expect(garbage.status).toBe(400);
    expect(JSON.parse(garbage.body)).toEqual({
      error: { code: 'bad_request', message: expect.stringMatching(/^request: /) },
    });
  });

  test('when the credits page Buy form names a bad package id, then 400 and no purchase', async () => {
    const user = await signUp(api);
    for (const [name, bad] of Object.entries(BAD_TEXT)) {
      const res = await fetch(`${app.url}/usercredits/buy`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          authorization: `Bearer ${user.apiKey}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ packageId: bad }).toString(),
      });
      // A form is UTF-8: a lone surrogate arrives as U+FFFD, visible text that names no package.
      const expected = name.includes('surrogate') ? 404 : 400;
      expect({ name, status: res.status }).toEqual({ name, status: expected });
    }
    expect((await footprint({ id: user.id, apiKey: user.apiKey })).purchases).toBe(0);
  });

  test('when the Idempotency-Key header has control characters, spaces or non-ASCII bytes, then 400 and nothing moves', async () => {
    const user = await fundedUser(app.sql, app.ledger, 10);
    const who = { id: user.user.id, apiKey: user.apiKey };
    const before = await footprint(who);
    const body = JSON.stringify({ packageId: 'starter' });
    // Bytes as sent on the wire (fetch refuses most of them), one request per connection.
    for (const value of [
      '\u0000',
      'a\u0001b',
      'a\u007fb',
      'a b',
      '\t',
      '   ',
      'caf\u00e9',
      'x'.repeat(201),
    ]) {
      const { status, body: answer } = await rawPost('/v1/purchases', user.apiKey, body, {
        'Idempotency-Key': value,
      });
      expect({ value, status }).toEqual({ value, status: 400 });
      // Node's HTTP parser refuses some bytes before the app sees them (it does not say which
      // header: the answer names the headers); what the app sees, it names.
      expect(JSON.parse(answer)).toMatchObject({
        error: { message: expect.stringMatching(/^(Idempotency-Key|headers): /) },
      });
    }
    expect(await footprint(who)).toEqual(before);
  });

  test('when a signed Stripe event carries NUL or lone surrogates, then it is stored with U+FFFD in their place and answered 200', async () => {
    const event = app.standIn.emit('test.hostile_text', {
      object: 'test_object',
      metadata: { note: 'a\u0000b\ud800c', 'key\u0000': 'x' },
    });
    await app.standIn.idle();
    const attempts = app.standIn.deliveries.filter((d) => d.eventId === event.id).map((d) => d.status);
    expect(attempts).toEqual([200]);
    const [row] = await app.sql<{ payload: { data: { object: { metadata: Record<string, string> } } } }[]>`
      SELECT payload FROM stripe_events WHERE id = ${event.id}`;
    expect(row!.payload.data.object.metadata).toEqual({ note: 'a\ufffdb\ufffdc', 'key\ufffd': 'x' });
  });

  test('when a body names __proto__ or constructor as a field, then 400 naming it', async () => {
    const user = await signUp(api);
    for (const field of ['__proto__', 'constructor', 'toString']) {
      const raw = `{"feature":"conversation","eventId":"${randomUUID()}","${field}":{"feature":"rag"}}`;
      const res = await api.raw('POST', '/v1/usage', { key: user.apiKey, raw });
      expectRefused(res, field);
    }
  });
});

/** Sends a POST with headers written byte for byte (latin1), and reads status and body. */
function rawPost(path: string, key: string, body: string, headers: Record<string, string>) {
  return rawRequest(app.url, {
    method: 'POST',
    path,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...headers },
    body,
  });
}

describe('object-property names as lookup keys', () => {
  test('when a usage event names a prototype member as its model or feature, then 400 naming it and no charge', async () => {
    const user = await fundedUser(app.sql, app.ledger, 1000);
    const who = { id: user.user.id, apiKey: user.apiKey };
    const before = await footprint(who);
    for (const name of PROTOTYPE_NAMES) {
      for (const feature of ['conversation', 'continuation', 'rag']) {
        const res = await api.post<ErrorBody>(
          '/v1/usage',
          { feature, eventId: randomUUID(), model: name },
          user.apiKey,
        );
        expectRefused(res, 'model');
        expect(res.body.error.message).toContain('unknown model');
        expectRefused(await api.post('/v1/estimates', { feature, model: name }, user.apiKey), 'model');
      }
      const upskilling = { feature: 'upskilling', trainingUnits: 1, model: name };
      expectRefused(
        await api.post('/v1/usage', { ...upskilling, eventId: randomUUID() }, user.apiKey),
        'model',
      );
      expectRefused(
        await api.post('/v1/usage', { feature: name, eventId: randomUUID() }, user.apiKey),
        'feature',
      );
      expectRefused(await api.post('/v1/estimates', { feature: name }, user.apiKey), 'feature');
    }
    expect(await footprint(who)).toEqual(before);
  });

  test('when a project task names a prototype member as its size, then 400 naming it and no project', async () => {
    const user = await fundedUser(app.sql, app.ledger, 1000);
    const who = { id: user.user.id, apiKey: user.apiKey };
    for (const name of PROTOTYPE_NAMES) {
      const tasks = [
        { title: 'a', size: 'small' },
        { title: 'b', size: name },
      ];
      expectRefused(await api.post('/v1/estimates', { tasks }, user.apiKey), 'tasks.1.size');
      expectRefused(await api.post('/v1/projects', { name: 'p', tasks }, user.apiKey), 'tasks.1.size');
    }
    expect((await footprint(who)).projects).toBe(0);
  });

  test('when a query string or a grant names a prototype member, then 400 naming it', async () => {
    const user = await signUp(api);
    for (const name of PROTOTYPE_NAMES) {
      for (const route of ['/v1/transactions', '/v1/projects', '/v1/usage/summary', '/v1/notifications']) {
        expectRefused(await api.get(`${route}?${name}=1`, user.apiKey), name);
      }
      expectRefused(await api.get(`/v1/notifications?kind=${name}`, user.apiKey), 'kind');
      const grant = await api.post(
        '/v1/admin/grants',
        { userId: user.id, credits: 1, bucket: name },
        ADMIN_KEY,
      );
      expectRefused(grant, 'bucket');
    }
    expect(await availableOf(api, user.apiKey)).toBe(0);
  });

  test('when pricing is asked for a prototype member directly, then it is a ValidationError, not a price', () => {
    const card = launchCard();
    for (const name of PROTOTYPE_NAMES) {
      expect(() => priceUsage(card, { feature: 'conversation', model: name })).toThrow(ValidationError);
      expect(() => taskPrice(card, name as TaskSize)).toThrow(ValidationError);
    }
  });

  test('when a rate card names a model "constructor", then it is published and prices that model by its own multiplier', async () => {
    const card = structuredClone(LAUNCH_CARD);
    card.models = { default: 'constructor', multipliersBp: { constructor: 20_000, standard: 10_000 } };
    const published = await api.post<{ version: number }>('/v1/admin/rate-cards', { card }, ADMIN_KEY);
    expect(published.status).toBe(201);
    const user = await fundedUser(app.sql, app.ledger, 100);
    // Conversation base 2 credits × 2 (20,000 bp): 4, by name and as the card's default.
    const named = await api.post(
      '/v1/usage',
      { feature: 'conversation', eventId: randomUUID(), model: 'constructor' },
      user.apiKey,
    );
    expect(named).toMatchObject({ status: 201, body: { charged: 4 } });
    const byDefault = await api.post(
      '/v1/usage',
      { feature: 'conversation', eventId: randomUUID() },
      user.apiKey,
    );
    expect(byDefault).toMatchObject({ status: 201, body: { charged: 4 } });
    expect(
      await api.post('/v1/estimates', { feature: 'conversation', model: 'constructor' }, user.apiKey),
    ).toMatchObject({
      status: 200,
      body: { credits: 4 },
    });
    // Other prototype names are still unknown on this card.
    for (const name of PROTOTYPE_NAMES.filter((n) => n !== 'constructor')) {
      expectRefused(
        await api.post('/v1/usage', { feature: 'rag', eventId: randomUUID(), model: name }, user.apiKey),
        'model',
      );
    }
    expect(await availableOf(api, user.apiKey)).toBe(92);
    await api.post('/v1/admin/rate-cards', { note: 'launch prices again', card: LAUNCH_CARD }, ADMIN_KEY);
  });

  test("when a rate card's default is a prototype member it does not have, or a model is named __proto__, then it is refused", async () => {
    const before = await latestRateCardVersion();
    for (const name of ['toString', 'constructor', 'hasOwnProperty', 'valueOf', '__proto__']) {
      const card = structuredClone(LAUNCH_CARD);
      card.models.default = name;
      expectRefused(await api.post('/v1/admin/rate-cards', { card }, ADMIN_KEY), 'card.models.default');
    }
    // JSON.parse makes "__proto__" an own key; the model-name rule refuses it.
    const raw = JSON.stringify({ card: LAUNCH_CARD }).replace('"lite":5000', '"__proto__":5000');
    const res = await api.raw<ErrorBody>('POST', '/v1/admin/rate-cards', { key: ADMIN_KEY, raw });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^card\.models\.multipliersBp/);
    expect(await latestRateCardVersion()).toBe(before);
  });

  test('when spending was recorded under a feature named like a prototype member, then the summary counts it as itself', async () => {
    const user = await fundedUser(app.sql, app.ledger, 100);
    for (const [feature, amount] of [
      ['constructor', 3],
      ['toString', 4],
      ['__proto__', 5],
    ] as const) {
      await app.ledger.debit({
        idempotencyKey: `proto-${randomUUID()}`,
        userId: user.user.id,
        amount,
        kind: `usage:${feature}`,
      });
    }
    const res = await api.get<{
      totalCredits: number;
      byFeature: { feature: string; credits: number }[];
      byDay: { credits: number; byFeature: Record<string, unknown> }[];
    }>('/v1/usage/summary', user.apiKey);
    expect(res.status).toBe(200);
    expect(res.body.totalCredits).toBe(12);
    expect(res.body.byDay).toHaveLength(1);
    expect(res.body.byDay[0]!.credits).toBe(12);
    expect(res.body.byDay[0]!.byFeature).toEqual({ constructor: 3, toString: 4, ['__proto__']: 5 });
  });
});

describe('dates and numbers that pass a format check but not Postgres, and loose coercions', () => {
  test('when the usage summary is asked for year 0, year 10000 or a far-future day, then 400 naming from or to', async () => {
    const user = await signUp(api);
    const summary = (query: string) => api.get(`/v1/usage/summary?${query}`, user.apiKey);
    for (const day of [
      '0000-01-01',
      '0000-12-31',
      '1969-12-31',
      '10000-01-01',
      '275760-09-13',
      '+275760-09-13',
      '2023-02-29',
      '2024-13-01',
      '2024-1-01',
      '20240101',
    ]) {
      expectRefused(await summary(`to=${encodeURIComponent(day)}`), 'to');
      expectRefused(await summary(`from=${encodeURIComponent(day)}&to=2024-01-01`), 'from');
    }
    // The edges are fine: the last day Postgres and the API both take, and the first.
    expect((await summary('from=9999-12-01&to=9999-12-31')).status).toBe(200);
    expect((await summary('from=1970-01-01&to=1970-01-31')).status).toBe(200);
    expect((await summary('to=1970-01-05')).status).toBe(200);
    expect((await summary('from=2024-02-29&to=2024-03-01')).status).toBe(200);
  });

  test('when a whole number in a query is written loosely (1e2, 0x1, 1.0, +1, spaces), then 400 naming it', async () => {
    const user = await signUp(api);
    const routes = ['/v1/transactions', '/v1/projects', '/v1/purchases', '/v1/receipts', '/v1/notifications'];
    for (const route of routes) {
      for (const loose of [
        '1e2',
        '1E1',
        '0x1',
        '0b1',
        '0o7',
        '1.0',
        '1.',
        '+1',
        '-1',
        ' 1',
        '1 ',
        '',
        '1_0',
        'Infinity',
        'NaN',
        '٣',
      ]) {
        const res = await api.get(`${route}?limit=${encodeURIComponent(loose)}`, user.apiKey);
        expect({ route, loose, status: res.status }).toEqual({ route, loose, status: 400 });
        expectRefused(res, 'limit');
      }
      expect((await api.get(`${route}?limit=7`, user.apiKey)).status).toBe(200);
      expect((await api.get(`${route}?limit=007`, user.apiKey)).status).toBe(200);
      expectRefused(await api.get(`${route}?limit=101`, user.apiKey), 'limit');
      expectRefused(await api.get(`${route}?limit=0`, user.apiKey), 'limit');
      expectRefused(await api.get(`${route}?limit=1&limit=2`, user.apiKey), 'limit');
    }
    for (const loose of ['1e2', '0x1', '1.0', ' 1', '-1', '9999999999999999']) {
      expectRefused(
        await api.get(`/v1/transactions?cursor=${encodeURIComponent(loose)}`, user.apiKey),
        'cursor',
      );
    }
  });

  test('when a rate card version in the path is written loosely, then 400 naming version', async () => {
    for (const loose of [
      '1e0',
      '1E0',
      '0x1',
      '1.0',
      '+1',
      '-1',
      '0',
      ' 1',
      '2147483648',
      '99999999999999999999',
    ]) {
      expectRefused(await api.get(`/v1/rate-cards/${encodeURIComponent(loose)}`), 'version');
    }
    expect((await api.get('/v1/rate-cards/1')).status).toBe(200);
  });

  test('when a JSON body gives a whole number as a string, a fraction or out of range, then 400 naming it; 1e2 is the number 100', async () => {
    const user = await fundedUser(app.sql, app.ledger, 1000);
    const who = { id: user.user.id, apiKey: user.apiKey };
    const before = await footprint(who);
    const usage = (raw: string) => api.raw('POST', '/v1/usage', { key: user.apiKey, raw });
    for (const value of ['"12"', '"0x1"', '"1e2"', '12.5', '-1', '1e400', '-1e400', 'true', '[]', 'null']) {
      expectRefused(
        await usage(`{"feature":"conversation","eventId":"${randomUUID()}","inputTokens":${value}}`),
        'inputTokens',
      );
      expectRefused(
        await usage(`{"feature":"upskilling","eventId":"${randomUUID()}","trainingUnits":${value}}`),
        'trainingUnits',
      );
      const grant = await api.raw('POST', '/v1/admin/grants', {
        key: ADMIN_KEY,
        raw: `{"userId":"${who.id}","credits":${value}}`,
      });
      expectRefused(grant, 'credits');
      const settings = await api.raw('PUT', '/v1/settings', {
        key: user.apiKey,
        raw: `{"lowBalanceThreshold":${value === 'null' ? '"x"' : value}}`,
      });
      expectRefused(settings, 'lowBalanceThreshold');
    }
    expect(await footprint(who)).toEqual(before);
    // JSON has one number 100 whether written 100, 1e2 or 100.0: the value counts, not its spelling.
    const res = await usage(
      `{"feature":"conversation","eventId":"${randomUUID()}","inputTokens":1e2,"outputTokens":250.0}`,
    );
    expect(res).toMatchObject({ status: 201, body: { charged: 2 + 1 + 1 } });
    // A user id in capital letters names the same user, as every id does.
    const upper = await api.raw<{ userId: string; credits: number }>('POST', '/v1/admin/grants', {
      key: ADMIN_KEY,
      json: { userId: who.id.toUpperCase(), credits: 7 },
    });
    expect(upper).toMatchObject({ status: 201, body: { userId: who.id, credits: 7 } });
  });
});

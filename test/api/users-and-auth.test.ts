import { http, signUp, startTestApp, type TestApp } from '../support/app';
import type { ErrorBody } from '../support/hostile';

let app: TestApp;
let api: ReturnType<typeof http>;

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
});
afterAll(() => app.close());

async function userCount(): Promise<number> {
  const [row] = await app.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM users`;
  return row!.n;
}

describe('POST /v1/users', () => {
  test('when a user signs up, then 201 returns the API key once and only its hash is stored', async () => {
    const res = await api.post<{ id: string; email: string; apiKey: string; referralCode: string }>(
      '/v1/users',
      {
        email: 'Ada@Example.test',
      },
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      email: 'Ada@Example.test',
      apiKey: expect.stringMatching(/^ck_/),
      referralCode: expect.any(String),
    });
    const [row] = await app.sql<
      { api_key_hash: string }[]
    >`SELECT api_key_hash FROM users WHERE id = ${res.body.id}`;
    expect(row!.api_key_hash).not.toContain(res.body.apiKey);
    expect(row!.api_key_hash).toMatch(/^[0-9a-f]{64}$/);
    const balance = await api.get('/v1/balance', res.body.apiKey);
    expect(balance.body).toMatchObject({ available: 0, posted: 0, held: 0 });
  });

  test('when the email is taken (any case), then 409 and no second user', async () => {
    await api.post('/v1/users', { email: 'dup@example.test' });
    const before = await userCount();
    const res = await api.post('/v1/users', { email: 'DUP@example.test' });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: { code: 'conflict', message: expect.stringContaining('email') } });
    expect(await userCount()).toBe(before);
  });

  test('when a referral code is given, then the new user is linked to the referrer', async () => {
    const referrer = await signUp(api);
    const res = await api.post<{ id: string }>('/v1/users', {
      email: `ref-${Date.now()}@example.test`,
      referralCode: referrer.referralCode,
    });
    expect(res.status).toBe(201);
    const [row] = await app.sql<
      { referred_by: string }[]
    >`SELECT referred_by FROM users WHERE id = ${res.body.id}`;
    expect(row!.referred_by).toBe(referrer.id);
  });

  test.each([
    [{}, 'email'],
    [{ email: 42 }, 'email'],
    [{ email: 'not-an-email' }, 'email'],
    [{ email: `${'a'.repeat(250)}@example.test` }, 'email'],
    [{ email: 'x@example.test', referralCode: 'NOPE0000' }, 'referralCode'],
    [{ email: 'x@example.test', referralCode: '!!' }, 'referralCode'],
    [{ email: 'x@example.test', admin: true }, 'admin'],
    [[], 'body'],
  ])('when the body is %j, then 400 names %s and nothing is created', async (body, field) => {
    const before = await userCount();
    const res = await api.post<{ error: { code: string; message: string } }>('/v1/users', body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.message.startsWith(`${field}:`)).toBe(true);
    expect(await userCount()).toBe(before);
  });

  test.each([['{"email": '], ['"just a string"'], ['null'], ['']])(
    'when the JSON is %j (malformed or not an object), then 400',
    async (raw) => {
      const before = await userCount();
      const res = await api.raw('POST', '/v1/users', { raw });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        error: { code: expect.stringMatching(/^(invalid_json|validation_error)$/) },
      });
      expect(await userCount()).toBe(before);
    },
  );

  test.each([['{"email": '], ['"just a string"'], ['null'], ['1'], ['1e308'], ['true']])(
    'when the body is %j (not JSON, or JSON but no object), then 400 says an object is wanted, on the Express routes and the usage fast path alike',
    async (raw) => {
      const { apiKey } = await signUp(api);
      for (const [path, key] of [
        ['/v1/users', undefined],
        ['/v1/usage', apiKey],
      ] as const) {
        const res = await api.raw('POST', path, { raw, ...(key ? { key } : {}) });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          error: { code: 'invalid_json', message: 'body: must be a JSON object, in UTF-8' },
        });
      }
    },
  );

  test('when a body comes as another content type (or none), then 415 on every API route, and a request without a body is still served', async () => {
    const { apiKey } = await signUp(api);
    const before = await userCount();
    for (const [path, contentType] of [
      ['/v1/users', 'text/plain'],
      ['/v1/users', undefined],
      ['/v1/payout-account', 'application/x-www-form-urlencoded'],
      ['/v1/usage', 'text/plain'],
    ] as const) {
      const res = await fetch(`${app.url}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          ...(contentType ? { 'content-type': contentType } : {}),
        },
        body: JSON.stringify({ email: `nobody-${Date.now()}@example.test` }),
      });
      expect(res.status).toBe(415);
      expect(await res.json()).toEqual({
        error: {
          code: 'unsupported_media_type',
          message: 'Content-Type: the body must be JSON (application/json)',
        },
      });
    }
    expect(await userCount()).toBe(before);
    const noBody = await fetch(`${app.url}/v1/payout-account`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(noBody.status).toBe(200);
  });

  test('when the body is not UTF-8, then 400 like any body that is not JSON, on the Express routes and the usage fast path alike, and nothing is stored', async () => {
    const { apiKey } = await signUp(api);
    const before = await userCount();
    const bytes = Buffer.concat([
      Buffer.from('{"email":"a'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('@example.test"}'),
    ]);
    for (const path of ['/v1/users', '/v1/usage']) {
      const res = await fetch(`${app.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: bytes,
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: { code: 'invalid_json', message: 'body: must be a JSON object, in UTF-8' },
      });
    }
    expect(await userCount()).toBe(before);
  });

  test('when a path id cannot be percent-decoded, or a body is not in the encoding it names, then 400 naming which', async () => {
    const { apiKey } = await signUp(api);
    const badPath = await api.get<ErrorBody>('/v1/withdrawals/%ff', apiKey);
    expect(badPath.status).toBe(400);
    expect(badPath.body).toEqual({
      error: { code: 'validation_error', message: 'path: a parameter is not valid percent-encoding (UTF-8)' },
    });
    const notGzip = await fetch(`${app.url}/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: JSON.stringify({ email: 'gzip@example.test' }),
    });
    expect(notGzip.status).toBe(400);
    expect(await notGzip.json()).toEqual({
      error: {
        code: 'validation_error',
        message: 'Content-Encoding: the body is not in the encoding it names',
      },
    });
  });

  test('when the body is too large, then 413', async () => {
    const res = await api.raw('POST', '/v1/users', { raw: JSON.stringify({ email: 'a'.repeat(200_000) }) });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: { code: 'payload_too_large' } });
  });
});

describe('authentication', () => {
  test.each([
    ['no header', undefined],
    ['an unknown key', 'ck_unknown'],
  ])('when a user route gets %s, then 401', async (_name, key) => {
    const res = await api.get('/v1/balance', key);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'unauthorized' } });
  });

  test('when the Authorization header is not a bearer token, then 401', async () => {
    const res = await api.raw('GET', '/v1/balance', { headers: { authorization: 'Basic abc' } });
    expect(res.status).toBe(401);
  });

  test('when a route does not exist, then 404 in the error shape', async () => {
    const res = await api.get('/v1/nope');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: { code: 'not_found' } });
  });
});

import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { createApp } from '../../api/app';
import { SIGN_IN_PATH } from '../../api/pages/credits';
import { listen, type RunningServer } from '../../api/server';
import { SESSION_COOKIE } from '../../api/session';
import { parseEnv } from '../../config/env';
import { workflowIds } from '../../workflows/messages';
import { availableOf } from '../metering/support';
import { ADMIN_KEY, http, signUp, startTestApp, type TestApp } from '../support/app';
import { fundedUser, uniqueEmail } from '../support/db';
import { waitFor } from '../support/wait';
import { startTestWorker, type TestWorker } from '../support/worker';

/**
 * Issue 13, item 5: cookie sessions and Origin, sign-ups that must not enumerate emails,
 * replays that say so, and /metrics behind a token.
 */

let app: TestApp;
let api: ReturnType<typeof http>;
let worker: TestWorker;

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
  // Slow tasks (5 s each): a project stays running while the tests poke at it.
  worker = await startTestWorker(app, { taskMs: 5000, usageBp: 10_000 });
});
afterAll(async () => {
  await worker?.stop();
  await app?.close();
});

/** Another API on the same stack, with its own per-process state (sign-up limits, metrics token). */
async function secondApi(options: { metricsToken?: string } = {}): Promise<RunningServer> {
  const deps = app.root.apiDeps({ adminApiKey: ADMIN_KEY, log: () => {} });
  return listen(createApp({ ...deps, metricsToken: options.metricsToken }), 0, '127.0.0.1');
}

/** Signs a browser in on the credits page and returns its cookie header. */
async function sessionCookie(apiKey: string): Promise<string> {
  const res = await fetch(`${app.url}${SIGN_IN_PATH}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: app.url },
    body: new URLSearchParams({ apiKey }).toString(),
  });
  expect(res.status).toBe(303);
  const cookie = /^([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
  return cookie!;
}

async function signalsOf(projectId: string): Promise<number> {
  const history = await app.temporal.workflow.getHandle(workflowIds.project(projectId)).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
}

describe('the session cookie on JSON routes', () => {
  const otherPort = () => app.url.replace(/:\d+$/, ':1');

  test('when a same-site page on another port posts a cancel with the cookie, then 403 naming Origin and the project gets no signal', async () => {
    const user = await fundedUser(app.sql, app.ledger, 10_000);
    const cookie = await sessionCookie(user.apiKey);
    const started = await api.post<{ id: string }>(
      '/v1/projects',
      { name: 'p', tasks: ['a', 'b', 'c', 'd', 'e'].map((title) => ({ title })) },
      user.apiKey,
    );
    expect(started.status).toBe(201);
    const cancel = (headers: Record<string, string>) =>
      api.raw<{ error: { message: string } }>('POST', `/v1/projects/${started.body.id}/cancel`, {
        headers: { cookie, ...headers },
      });
    const foreign: Record<string, string>[] = [
      { origin: otherPort() },
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site' },
      { origin: app.url, 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of foreign) {
      const res = await cancel(headers);
      expect({ headers, status: res.status }).toEqual({ headers, status: 403 });
      expect(res.body.error.message).toMatch(/^Origin: /);
    }
    expect(await signalsOf(started.body.id)).toBe(0);
    // From the API's own origin the same cookie cancels.
    expect((await cancel({ origin: app.url, 'sec-fetch-site': 'same-origin' })).status).toBe(202);
    // The server holds signals back while a workflow task runs: wait for this one to land. Signals
    // keep their order, so exactly one means none of the refused requests signalled before it.
    await waitFor('the cancel signal in the history', async () => (await signalsOf(started.body.id)) > 0);
    expect(await signalsOf(started.body.id)).toBe(1);
  });

  test('when another origin sends a charge or a settings change with the cookie, then 403 and nothing changes', async () => {
    const user = await fundedUser(app.sql, app.ledger, 100);
    const cookie = await sessionCookie(user.apiKey);
    const settingsBefore = (await api.get('/v1/settings', user.apiKey)).body;
    const headers = { cookie, origin: otherPort() };
    const usage = await api.raw('POST', '/v1/usage', {
      headers,
      raw: JSON.stringify({ feature: 'conversation', eventId: randomUUID() }),
    });
    expect(usage.status).toBe(403);
    const settings = await api.raw('PUT', '/v1/settings', { headers, raw: '{"lowBalanceThreshold":5}' });
    expect(settings.status).toBe(403);
    const purchase = await api.raw('POST', '/v1/purchases', { headers, raw: '{"packageId":"starter"}' });
    expect(purchase.status).toBe(403);
    expect(await availableOf(api, user.apiKey)).toBe(100);
    expect((await api.get('/v1/settings', user.apiKey)).body).toEqual(settingsBefore);
    expect((await api.get<{ data: unknown[] }>('/v1/purchases', user.apiKey)).body.data).toEqual([]);
  });

  test('when another origin reads with the cookie, or a bearer key is sent from anywhere, then it works as before', async () => {
    const user = await fundedUser(app.sql, app.ledger, 100);
    const cookie = await sessionCookie(user.apiKey);
    const read = await api.raw('GET', '/v1/balance', { headers: { cookie, origin: otherPort() } });
    expect(read).toMatchObject({ status: 200, body: { available: 100 } });
    const charge = await api.raw('POST', '/v1/usage', {
      key: user.apiKey,
      headers: { origin: otherPort() },
      raw: JSON.stringify({ feature: 'conversation', eventId: randomUUID() }),
    });
    expect(charge.status).toBe(201);
    // The page's own origin may change things with the cookie.
    const own = await api.raw('PUT', '/v1/settings', {
      headers: { cookie, origin: app.url },
      raw: '{"lowBalanceThreshold":5}',
    });
    expect(own).toMatchObject({ status: 200, body: { lowBalanceThreshold: 5 } });
  });
});

describe('POST /v1/users and registered emails', () => {
  /** POST /v1/users from a chosen loopback address (the limit is per client address). */
  function signUpFrom(url: string, localAddress: string, email: string) {
    return new Promise<{ status: number; retryAfter: string | undefined; body: Record<string, unknown> }>(
      (resolve, reject) => {
        const body = JSON.stringify({ email });
        const req = httpRequest(
          `${url}/v1/users`,
          { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } },
          (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => {
              text += chunk.toString();
            });
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                retryAfter: res.headers['retry-after'],
                body: JSON.parse(text) as Record<string, unknown>,
              }),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      },
    );
  }

  test('when one address keeps trying registered emails, then after 5 refusals every sign-up from it, new email or not, is 429 with Retry-After', async () => {
    const server = await secondApi();
    try {
      const taken = uniqueEmail('taken');
      expect((await signUpFrom(server.url, '127.0.0.1', taken)).status).toBe(201);
      for (let i = 0; i < 5; i++) expect((await signUpFrom(server.url, '127.0.0.1', taken)).status).toBe(409);
      const fresh = uniqueEmail('fresh');
      const [registered, unregistered] = [
        await signUpFrom(server.url, '127.0.0.1', taken),
        await signUpFrom(server.url, '127.0.0.1', fresh),
      ];
      // The same answer whether or not the email is registered: nothing more to learn.
      for (const res of [registered, unregistered]) {
        expect(res.status).toBe(429);
        expect(Number(res.retryAfter)).toBeGreaterThan(800);
        expect(res.body).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
      }
      expect(registered.body).toEqual(unregistered.body);
      const [row] = await app.sql<
        { n: number }[]
      >`SELECT count(*)::int AS n FROM users WHERE email = ${fresh}`;
      expect(row!.n).toBe(0);
      // Another address is not affected; new sign-ups never count against it.
      expect((await signUpFrom(server.url, '127.0.0.2', fresh)).status).toBe(201);
      expect((await signUpFrom(server.url, '127.0.0.2', uniqueEmail())).status).toBe(201);
    } finally {
      await server.close();
    }
  });

  test('when an address signs up many new emails, then none is refused', async () => {
    const server = await secondApi();
    try {
      for (let i = 0; i < 8; i++)
        expect((await signUpFrom(server.url, '127.0.0.3', uniqueEmail())).status).toBe(201);
    } finally {
      await server.close();
    }
  });
});

describe('a retried request with the same key answers 200 and says it is a replay', () => {
  const REPLAYED = 'idempotent-replayed';

  test('when a usage event is sent twice, then 201, then 200 with Idempotent-Replayed: true and one charge', async () => {
    const user = await fundedUser(app.sql, app.ledger, 100);
    const body = { feature: 'conversation', eventId: randomUUID() };
    const first = await api.post('/v1/usage', body, user.apiKey);
    const again = await api.post('/v1/usage', body, user.apiKey);
    expect([first.status, first.headers.get(REPLAYED)]).toEqual([201, null]);
    expect([again.status, again.headers.get(REPLAYED)]).toEqual([200, 'true']);
    expect(again.body).toMatchObject({ replayed: true, charged: 2 });
    const conflict = await api.post('/v1/usage', { ...body, feature: 'rag' }, user.apiKey);
    expect([conflict.status, conflict.headers.get(REPLAYED)]).toEqual([409, null]);
    expect(await availableOf(api, user.apiKey)).toBe(98);
  });

  test('when an operator grant is retried with its Idempotency-Key, then 201, then 200 with the header and one credit', async () => {
    const user = await signUp(api);
    const key = { 'idempotency-key': randomUUID() };
    const send = (credits: number) =>
      api.post('/v1/admin/grants', { userId: user.id, credits }, ADMIN_KEY, key);
    const first = await send(50);
    const again = await send(50);
    expect([first.status, first.headers.get(REPLAYED)]).toEqual([201, null]);
    expect([again.status, again.headers.get(REPLAYED)]).toEqual([200, 'true']);
    expect(again.body).toEqual(first.body);
    const conflict = await send(60);
    expect([conflict.status, conflict.headers.get(REPLAYED)]).toEqual([409, null]);
    expect(await availableOf(api, user.apiKey)).toBe(50);
  });

  test('when a project is retried with its Idempotency-Key, then 201, then 200 with the header and one project', async () => {
    const user = await fundedUser(app.sql, app.ledger, 10_000);
    const key = { 'idempotency-key': randomUUID() };
    const body = { name: 'replayed', tasks: [{ title: 'one', size: 'small' }] };
    const first = await api.post<{ id: string }>('/v1/projects', body, user.apiKey, key);
    const again = await api.post<{ id: string }>('/v1/projects', body, user.apiKey, key);
    expect([first.status, first.headers.get(REPLAYED)]).toEqual([201, null]);
    expect([again.status, again.headers.get(REPLAYED)]).toEqual([200, 'true']);
    expect(again.body.id).toBe(first.body.id);
    const list = await api.get<{ data: unknown[] }>('/v1/projects', user.apiKey);
    expect(list.body.data).toHaveLength(1);
  });

  test('when a purchase is retried with its Idempotency-Key, then 201, then 200 with the header and one purchase', async () => {
    const user = await signUp(api);
    const key = { 'idempotency-key': randomUUID() };
    const first = await api.post<{ id: string }>('/v1/purchases', { packageId: 'starter' }, user.apiKey, key);
    const again = await api.post<{ id: string }>('/v1/purchases', { packageId: 'starter' }, user.apiKey, key);
    expect([first.status, first.headers.get(REPLAYED)]).toEqual([201, null]);
    expect([again.status, again.headers.get(REPLAYED)]).toEqual([200, 'true']);
    expect(again.body.id).toBe(first.body.id);
    const list = await api.get<{ data: unknown[] }>('/v1/purchases', user.apiKey);
    expect(list.body.data).toHaveLength(1);
  });
});

describe('/metrics', () => {
  test('when METRICS_TOKEN is set, then /metrics answers 401 without it or with another, and the metrics with it', async () => {
    const token = 'metrics-token-0123456789abcdef';
    const server = await secondApi({ metricsToken: token });
    try {
      const scrape = (authorization?: string) =>
        fetch(`${server.url}/metrics`, { headers: authorization ? { authorization } : {} });
      for (const authorization of [
        undefined,
        'Bearer wrong-token-0123456789',
        `Bearer ${token}x`,
        ADMIN_KEY,
        `Basic ${token}`,
      ]) {
        const res = await scrape(authorization);
        expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
        expect(await res.text()).not.toContain('http_request_duration_seconds');
      }
      const ok = await scrape(`Bearer ${token}`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('http_request_duration_seconds');
      // The rest of the API does not need the token.
      expect((await fetch(`${server.url}/v1/rate-card`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  test('when METRICS_TOKEN is not set, then /metrics is open as before', async () => {
    const res = await fetch(`${app.url}/metrics`);
    expect(res.status).toBe(200);
  });

  test('when METRICS_TOKEN is configured, then it is parsed, and a short one stops the start naming it', () => {
    expect(parseEnv({ METRICS_TOKEN: 'metrics-token-0123456789' }).METRICS_TOKEN).toBe(
      'metrics-token-0123456789',
    );
    expect(parseEnv({ METRICS_TOKEN: '' }).METRICS_TOKEN).toBeUndefined();
    expect(() => parseEnv({ METRICS_TOKEN: 'short' })).toThrow(/^invalid configuration: METRICS_TOKEN: /);
  });
});

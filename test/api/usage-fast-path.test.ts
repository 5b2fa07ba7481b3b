import { randomUUID } from 'node:crypto';
import { availableOf } from '../metering/support';
import { http, startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { fastPathSwitch } from '../support/fast-path-switch';

/**
 * POST /v1/usage is served outside Express when it can be; both ways must answer alike. The
 * app's fast path is wrapped (jest.mock, so api/app.ts builds the wrapped one) to see which way
 * served each request, and to turn it off so Express answers the very same request.
 */
jest.mock('../../api/usage-fast-path', () =>
  jest
    .requireActual<typeof import('../support/fast-path-switch')>('../support/fast-path-switch')
    .switchableFastPath(),
);

type Path = 'fast path' | 'Express';

let app: TestApp;
let api: ReturnType<typeof http>;

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
});
afterAll(() => app.close());
afterEach(() => {
  fastPathSwitch.enabled = true;
});

/** Sends through `path` only (Express: fast path off) and checks that path is what answered. */
async function through<T>(path: Path, send: () => Promise<T>): Promise<T> {
  fastPathSwitch.enabled = path === 'fast path';
  const before = fastPathSwitch.served;
  try {
    const result = await send();
    expect({ path, served: fastPathSwitch.served - before }).toEqual({
      path,
      served: path === 'fast path' ? 1 : 0,
    });
    return result;
  } finally {
    fastPathSwitch.enabled = true;
  }
}

/** What a client sees of an answer: status, body, content type. */
async function post(key: string, raw: string, headers: Record<string, string> = {}) {
  const res = await api.raw('POST', '/v1/usage', { key, raw, headers });
  return { status: res.status, contentType: res.headers.get('content-type'), body: res.body };
}

const event = () => JSON.stringify({ feature: 'conversation', eventId: randomUUID() });

test('when a charge has a bearer key and a JSON body with a length, then the fast path serves it', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 100);
  const res = await through('fast path', () => post(apiKey, event()));
  expect(res).toMatchObject({ status: 201, body: { charged: 2, balance: 98 } });
});

test('when the same requests go through the fast path and through Express, then every answer is the same', async () => {
  // Two users in the same state, one per path; eventIds are per user, so both can use the same.
  const users = {
    'fast path': await fundedUser(app.sql, app.ledger, 10),
    Express: await fundedUser(app.sql, app.ledger, 10),
  };
  // An answer may name its user (an idempotency key does): compare with the id taken out.
  const seenBy = async <T>(path: Path, send: (key: string) => Promise<T>): Promise<T> => {
    const { user, apiKey } = users[path];
    const answer = await through(path, () => send(apiKey));
    return JSON.parse(JSON.stringify(answer).replaceAll(user.id, '<user id>')) as T;
  };
  const [eventId, otherId, badKey] = [randomUUID(), randomUUID(), `sk_${randomUUID()}`];
  const body = (fields: Record<string, unknown>) => JSON.stringify(fields);
  // Every kind of answer the route gives, in order (the first charge leaves 8 of 10 credits).
  const requests: [string, number, (key: string) => Promise<{ status: number }>][] = [
    ['a charge', 201, (key) => post(key, body({ feature: 'conversation', eventId }))],
    ['its replay', 200, (key) => post(key, body({ feature: 'conversation', eventId }))],
    ['its eventId with another body', 409, (key) => post(key, body({ feature: 'rag', eventId }))],
    [
      'more than the balance',
      402,
      (key) => post(key, body({ feature: 'upskilling', trainingUnits: 5, eventId: otherId })),
    ],
    ['an unknown feature', 400, (key) => post(key, body({ feature: 'telepathy', eventId: otherId }))],
    ['malformed JSON', 400, (key) => post(key, '{"feature": ')],
    ['an empty body', 400, (key) => post(key, '')],
    ['a JSON string', 400, (key) => post(key, '"conversation"')],
    ['an unknown API key', 401, () => post(badKey, body({ feature: 'conversation', eventId: otherId }))],
  ];
  for (const [name, status, send] of requests) {
    const fast = await seenBy('fast path', send);
    const express = await seenBy('Express', send);
    expect({ name, status: fast.status }).toEqual({ name, status });
    expect({ name, express }).toEqual({ name, express: fast });
  }
  const balances = [users.Express, users['fast path']].map((u) => availableOf(api, u.apiKey));
  const [express, fast] = await Promise.all(balances);
  expect(express).toBe(fast);
});

test('when the body is chunked (no Content-Length), then Express serves it and the charge is the same', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 100);
  const body = event();
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(body));
      controller.close();
    },
  });
  const res = await through('Express', () =>
    fetch(`${app.url}/v1/usage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit),
  );
  expect(res.status).toBe(201);
  expect(await res.json()).toMatchObject({ charged: 2, balance: 98 });
});

test('when the content type is not JSON, then Express answers 415 naming the Content-Type', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 100);
  const res = await through('Express', () => post(apiKey, event(), { 'content-type': 'text/plain' }));
  expect(res.status).toBe(415);
  expect((res.body as { error: { message: string } }).error.message).toMatch(/^Content-Type: /);
});

test('when charges go through the fast path, then /metrics counts them under the route', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 100);
  const counted = async () => {
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    const line =
      /http_request_duration_seconds_count\{method="POST",route="\/v1\/usage",status="201"\} (\d+)/;
    return Number(metrics.match(line)?.[1] ?? 0);
  };
  const before = await counted();
  expect((await through('fast path', () => post(apiKey, event()))).status).toBe(201);
  expect(await counted()).toBe(before + 1);
});

import { randomUUID } from 'node:crypto';
import { http, startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';

/** POST /v1/usage is served outside Express when it can be; both ways must answer alike. */
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

const event = () => JSON.stringify({ feature: 'conversation', eventId: randomUUID() });

test('when the body is chunked (no Content-Length), then Express serves it and the charge is the same', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 100);
  const body = event();
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(body));
      controller.close();
    },
  });
  const res = await fetch(`${app.url}/v1/usage`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: stream,
    duplex: 'half',
  } as RequestInit);
  expect(res.status).toBe(201);
  expect(await res.json()).toMatchObject({ charged: 2, balance: 98 });
});

test('when the content type is not JSON, then Express answers 400 naming the body, as before', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 100);
  const res = await http(app.url).raw<{ error: { message: string } }>('POST', '/v1/usage', {
    key: apiKey,
    raw: event(),
    headers: { 'content-type': 'text/plain' },
  });
  expect(res.status).toBe(400);
  expect(res.body.error.message).toMatch(/^body: /);
});

test('when charges go through the fast path, then /metrics counts them under the route', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 100);
  const res = await http(app.url).raw('POST', '/v1/usage', { key: apiKey, raw: event() });
  expect(res.status).toBe(201);
  const metrics = await (await fetch(`${app.url}/metrics`)).text();
  expect(metrics).toMatch(
    /http_request_duration_seconds_count\{method="POST",route="\/v1\/usage",status="201"\} [1-9]/,
  );
});

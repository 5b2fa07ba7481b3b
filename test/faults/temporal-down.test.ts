import { randomUUID } from 'node:crypto';
import { TEMPORAL_CALL_DEADLINE_MS } from '../../composition/temporal-connection';
import { freePort } from '../../dev/ports';
import { http, startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { FreezableProxy, timed, UNAVAILABLE, unavailableView, until } from './support';

/**
 * Temporal unreachable: the routes that need it (starting a purchase or a project, cancelling a
 * project) answer 503 `unavailable` with Retry-After within a few seconds, never 500 and never
 * hanging; the routes that need only Postgres keep working; /healthz names Temporal. The app
 * connects lazily to a port where nothing listens.
 */
let app: TestApp;
let api: ReturnType<typeof http>;

beforeAll(async () => {
  app = await startTestApp({ temporalAddress: `127.0.0.1:${await freePort()}` });
  api = http(app.url);
});
afterAll(() => app?.close());

const projectBody = { name: 'p', tasks: [{ title: 't', size: 'small' }] };
/** How long Temporal stays away in the recovery test, and how soon after it must work again. */
const OUTAGE_MS = 40_000;
const RECOVERY_BOUND_MS = 8000;

test('when Temporal is unreachable, then starting a project or a purchase and cancelling answer 503 within 5 s, and /healthz names Temporal', async () => {
  const { user, apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const key = randomUUID();

  const project = await timed(() =>
    api.post('/v1/projects', projectBody, apiKey, { 'idempotency-key': key }),
  );
  expect(unavailableView(project)).toEqual(UNAVAILABLE);
  expect(project.result.body).toMatchObject({ error: { message: expect.stringContaining('Temporal') } });

  const purchase = await timed(() =>
    api.post('/v1/purchases', { packageId: 'starter' }, apiKey, { 'idempotency-key': randomUUID() }),
  );
  expect(unavailableView(purchase)).toEqual(UNAVAILABLE);

  // The project's row was written before its workflow could start: cancelling it needs Temporal.
  const [row] = await app.sql<{ id: string }[]>`SELECT id FROM projects WHERE user_id = ${user.id}`;
  const cancel = await timed(() => api.post(`/v1/projects/${row!.id}/cancel`, {}, apiKey));
  expect(unavailableView(cancel)).toEqual(UNAVAILABLE);

  // What needs only Postgres still answers.
  const charge = await api.post('/v1/usage', { feature: 'conversation', eventId: randomUUID() }, apiKey);
  expect(charge.status).toBe(201);
  expect((await api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 998 });

  const health = await timed(() => api.get('/healthz'));
  expect(unavailableView(health)).toMatchObject({ status: 503, retryAfter: '5', fast: true });
  expect(health.result.body).toMatchObject({
    status: 'unavailable',
    checks: { postgres: 'ok', temporal: 'down' },
  });
  console.info(
    `Temporal down, measured (ms): ${JSON.stringify({ project: project.ms, purchase: purchase.ms, cancel: cancel.ms, healthz: health.ms })}`,
  );
}, 60_000);

test('when Temporal comes back after a long outage, then starting a project works again within seconds, by itself', async () => {
  const port = await freePort();
  const temporalApp = await startTestApp({ temporalAddress: `127.0.0.1:${port}` });
  const temporalApi = http(temporalApp.url);
  let proxy: FreezableProxy | null = null;
  try {
    const { apiKey } = await fundedUser(temporalApp.sql, temporalApp.ledger, 1000);
    const start = () =>
      temporalApi.post('/v1/projects', projectBody, apiKey, { 'idempotency-key': randomUUID() });
    // A long outage with traffic: every try fails, so the client's reconnect pauses grow.
    const outageEnds = Date.now() + OUTAGE_MS;
    while (Date.now() < outageEnds) {
      expect((await start()).status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    // Temporal back on the same address (the run's own, through a proxy on that port).
    const [host, temporalPort] = process.env.TEMPORAL_ADDRESS!.split(':');
    proxy = await FreezableProxy.start(Number(temporalPort), { port, targetHost: host! });
    const back = performance.now();
    await until(
      'a project to start after Temporal is back',
      async () => ((await start()).status === 201 ? true : null),
      60_000,
    );
    const recoveredMs = Math.round(performance.now() - back);
    console.info(`Temporal back after ${OUTAGE_MS} ms down → first project started in ${recoveredMs} ms`);
    expect(recoveredMs).toBeLessThan(RECOVERY_BOUND_MS);
  } finally {
    await temporalApp.close();
    await proxy?.close();
  }
}, 180_000);

test('when Temporal stops answering (connections open, nothing comes back), then a project start answers 503 by the call deadline, and works at the thaw', async () => {
  const [host, temporalPort] = process.env.TEMPORAL_ADDRESS!.split(':');
  const proxy = await FreezableProxy.start(Number(temporalPort), { targetHost: host! });
  const frozenApp = await startTestApp({ temporalAddress: `127.0.0.1:${proxy.port}` });
  const frozenApi = http(frozenApp.url);
  try {
    const { apiKey } = await fundedUser(frozenApp.sql, frozenApp.ledger, 1000);
    const start = () =>
      frozenApi.post('/v1/projects', projectBody, apiKey, { 'idempotency-key': randomUUID() });
    expect((await start()).status).toBe(201);

    proxy.freeze();
    const [project, health] = await Promise.all([timed(start), timed(() => frozenApi.get('/healthz'))]);
    // Answered by the call's deadline: not before it (nothing failed), long before the request's.
    expect(unavailableView(project)).toMatchObject({ status: 503, code: 'unavailable', retryAfter: '5' });
    expect(project.ms).toBeGreaterThanOrEqual(TEMPORAL_CALL_DEADLINE_MS - 50);
    expect(project.ms).toBeLessThan(TEMPORAL_CALL_DEADLINE_MS + 2000);
    expect(health.result.body).toMatchObject({ checks: { postgres: 'ok', temporal: 'down' } });
    console.info(
      `Temporal frozen, measured (ms): ${JSON.stringify({ project: project.ms, healthz: health.ms })}`,
    );

    proxy.thaw();
    await until(
      'a project to start after the thaw',
      async () => ((await start()).status === 201 ? true : null),
      30_000,
    );
  } finally {
    proxy.thaw();
    await frozenApp.close();
    await proxy.close();
  }
}, 120_000);

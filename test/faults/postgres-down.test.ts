import { randomUUID } from 'node:crypto';
import { REQUEST_DEADLINE_MS } from '../../api/server';
import { type HttpResult, http, startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { fastPathSwitch } from '../support/fast-path-switch';
import {
  FreezableProxy,
  OwnPostgres,
  type Timed,
  timed,
  UNAVAILABLE,
  unavailableView,
  until,
} from './support';

/**
 * DESIGN.md §14: while Postgres is down the API answers 503 `unavailable` with Retry-After,
 * within a few seconds, never 500; when it is back, everything works again by itself. The app
 * here runs on a Postgres of this file's own, which the tests stop and start.
 */

/** The fast path can be turned off (as in test/api/usage-fast-path.test.ts) to send a charge through Express. */
jest.mock('../../api/usage-fast-path', () =>
  jest
    .requireActual<typeof import('../support/fast-path-switch')>('../support/fast-path-switch')
    .switchableFastPath(),
);

const FUNDS = 1000;
let postgres: OwnPostgres;
let app: TestApp;
let api: ReturnType<typeof http>;
let user: { id: string; apiKey: string };

beforeAll(async () => {
  postgres = await OwnPostgres.start();
  app = await startTestApp({ databaseUrl: postgres.url });
  api = http(app.url);
  const funded = await fundedUser(app.sql, app.ledger, FUNDS);
  user = { id: funded.user.id, apiKey: funded.apiKey };
}, 120_000);

afterAll(async () => {
  await app?.close();
  await postgres?.remove();
}, 60_000);

type Path = 'fast path' | 'Express';

/** A conversation charge (2 credits) through `path`, which must be the one that answers. */
async function charge(path: Path, eventId: string): Promise<HttpResult<unknown>> {
  fastPathSwitch.enabled = path === 'fast path';
  const before = fastPathSwitch.served;
  try {
    const res = await api.post('/v1/usage', { feature: 'conversation', eventId }, user.apiKey);
    expect({ path, served: fastPathSwitch.served - before }).toEqual({
      path,
      served: path === 'fast path' ? 1 : 0,
    });
    return res;
  } finally {
    fastPathSwitch.enabled = true;
  }
}

async function available(): Promise<number> {
  const res = await api.get<{ available: number }>('/v1/balance', user.apiKey);
  expect(res.status).toBe(200);
  return res.body.available;
}

/**
 * Representative routes, each as a client sends it: reads, both charge paths, writes that start
 * workflows, sign-up, the page. (An estimate is not among them: it is priced from the cached
 * rate card for a cached key, and rightly still answers while that lasts.)
 */
function representativeRequests(projectId: string): Record<string, () => Promise<HttpResult<unknown>>> {
  return {
    'GET /v1/balance': () => api.get('/v1/balance', user.apiKey),
    'GET /v1/transactions': () => api.get('/v1/transactions', user.apiKey),
    'POST /v1/usage (fast path)': () => charge('fast path', 'outage-fast'),
    'POST /v1/usage (Express)': () => charge('Express', 'outage-express'),
    'POST /v1/purchases': () =>
      api.post('/v1/purchases', { packageId: 'starter' }, user.apiKey, { 'idempotency-key': randomUUID() }),
    'POST /v1/projects': () =>
      api.post('/v1/projects', { name: 'p', tasks: [{ title: 't', size: 'small' }] }, user.apiKey),
    'GET /v1/projects/:id/events': () => api.get(`/v1/projects/${projectId}/events`, user.apiKey),
    'POST /v1/users': () => api.post('/v1/users', { email: `down-${randomUUID()}@example.test` }),
    'GET /usercredits': () => api.get('/usercredits', user.apiKey),
  };
}

describe('when Postgres stops and starts again', () => {
  const times: Record<string, number> = {};

  test('then every route answers 503 unavailable with Retry-After within 5 s, /healthz names Postgres, and all recovers by itself', async () => {
    // Before: a charge through each path, so the batch connection and the pool are both open.
    expect((await charge('fast path', randomUUID())).status).toBe(201);
    expect((await charge('Express', randomUUID())).status).toBe(201);
    expect(await available()).toBe(FUNDS - 4);
    const projectId = randomUUID();

    await postgres.stop();
    try {
      for (const [name, send] of Object.entries(representativeRequests(projectId))) {
        const answer = await timed(send);
        times[name] = answer.ms;
        expect({ name, ...unavailableView(answer) }).toEqual({ name, ...UNAVAILABLE });
      }
      // Many at once: none waits for a pool connection longer than the bound either.
      const burst: Timed<HttpResult<unknown>>[] = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          timed(() =>
            i % 2 === 0
              ? api.get('/v1/balance', user.apiKey)
              : api.post('/v1/usage', { feature: 'conversation', eventId: `burst-${i}` }, user.apiKey),
          ),
        ),
      );
      times['60 at once (slowest)'] = Math.max(...burst.map((b) => b.ms));
      for (const answer of burst) expect(unavailableView(answer)).toEqual(UNAVAILABLE);

      const health = await timed(() => api.get('/healthz'));
      times['GET /healthz'] = health.ms;
      expect(unavailableView(health)).toMatchObject({ status: 503, retryAfter: '5', fast: true });
      expect(health.result.body).toMatchObject({
        status: 'unavailable',
        checks: { postgres: 'down', temporal: 'ok' },
      });
    } finally {
      const restarted = performance.now();
      await postgres.restart();
      times['Postgres restart'] = Math.round(performance.now() - restarted);
    }

    // After: the first charge that succeeds, with no one touching the app.
    const back = performance.now();
    await until(
      'a charge to succeed after the restart',
      async () => ((await charge('fast path', 'after-restart')).status === 201 ? true : null),
      30_000,
    );
    times['first charge after restart'] = Math.round(performance.now() - back);
    expect((await charge('Express', 'after-restart-express')).status).toBe(201);
    // The charges answered 503 moved nothing: their eventIds are new now, and the balance shows
    // only the four charges that succeeded.
    expect((await charge('fast path', 'outage-fast')).status).toBe(201);
    expect((await charge('Express', 'outage-express')).status).toBe(201);
    expect(await available()).toBe(FUNDS - 4 - 8);
    expect((await api.get('/healthz')).body).toEqual({
      status: 'ok',
      checks: { postgres: 'ok', temporal: 'ok' },
    });

    const report = await app.ledger.conservation();
    expect(report).toMatchObject({
      sumPosted: 0,
      postedMismatches: [],
      heldMismatches: [],
      negativeUserAccounts: 0,
    });
    console.info(`Postgres down, measured (ms): ${JSON.stringify(times)}`);
  }, 120_000);
});

describe('when Postgres stops answering without closing anything (a partition), then thaws', () => {
  test('then requests answer 503 unavailable by the request deadline, and all recovers by itself', async () => {
    const proxy = await FreezableProxy.start(Number(new URL(postgres.url).port));
    const frozenApp = await startTestApp({ databaseUrl: proxy.urlFor(postgres.url) });
    const frozenApi = http(frozenApp.url);
    try {
      const { user: payer, apiKey } = await fundedUser(frozenApp.sql, frozenApp.ledger, FUNDS);
      const chargeThrough = (eventId: string) =>
        frozenApi.post('/v1/usage', { feature: 'conversation', eventId }, apiKey);
      expect((await chargeThrough(randomUUID())).status).toBe(201);

      proxy.freeze();
      const [balance, charge, health] = await Promise.all([
        timed(() => frozenApi.get('/v1/balance', apiKey)),
        timed(() => chargeThrough('while-frozen')),
        timed(() => frozenApi.get('/healthz')),
      ]);
      // Answered by the deadline, not before it (nothing failed) and not long after.
      for (const answer of [balance, charge]) {
        expect(answer.result.status).toBe(503);
        expect(answer.result.headers.get('retry-after')).toBe('5');
        expect(answer.result.body).toMatchObject({ error: { code: 'unavailable' } });
        expect(answer.ms).toBeGreaterThanOrEqual(REQUEST_DEADLINE_MS - 50);
        expect(answer.ms).toBeLessThan(REQUEST_DEADLINE_MS + 3000);
      }
      expect(health.result.status).toBe(503);
      expect(health.result.body).toMatchObject({ checks: { postgres: 'down', temporal: 'ok' } });
      expect(health.ms).toBeLessThan(4000);
      console.info(
        `Postgres frozen, measured (ms): ${JSON.stringify({ balance: balance.ms, charge: charge.ms, healthz: health.ms })}`,
      );

      proxy.thaw();
      const thawed = performance.now();
      await until(
        'a charge after the thaw',
        async () => ((await chargeThrough(randomUUID())).status === 201 ? true : null),
        30_000,
      );
      console.info(`first charge after thaw (ms): ${Math.round(performance.now() - thawed)}`);
      // The charge answered 503 had reached Postgres and commits at the thaw; its retry (same
      // eventId) is then a replay, so it is charged once either way.
      expect([200, 201]).toContain((await chargeThrough('while-frozen')).status);
      expect((await frozenApi.get('/v1/balance', apiKey)).body).toMatchObject({
        available: FUNDS - 2 - 2 - 2,
      });
      const [row] = await frozenApp.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM ledger_operations WHERE idempotency_key = ${`usage:${payer.id}:while-frozen`}`;
      expect(row!.n).toBe(1);
    } finally {
      proxy.thaw();
      await frozenApp.close();
      await proxy.close();
    }
  }, 120_000);
});

describe('when Postgres is killed (kill -9) while charges flow', () => {
  test('then every charge answers 201 or 503, never 500, and each is charged at most once, exactly once after its retry', async () => {
    const { user: payer, apiKey } = await fundedUser(app.sql, app.ledger, FUNDS);
    const answers = new Map<string, number>();
    const send = async (eventId: string) => {
      const res = await api.post('/v1/usage', { feature: 'conversation', eventId }, apiKey);
      answers.set(eventId, res.status);
      return res.status;
    };
    let killedAt = 0;
    let createdAfterKill = 0;
    // Four callers, one charge after another, until ten charges succeed after the kill.
    const callers = Array.from({ length: 4 }, async (_, caller) => {
      const deadline = Date.now() + 60_000;
      for (let i = 0; createdAfterKill < 10 && Date.now() < deadline; i++) {
        const status = await send(`flow-${caller}-${i}`);
        if (status === 201 && killedAt > 0) createdAfterKill++;
        if (status !== 201) await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    postgres.killServer();
    killedAt = Date.now();
    await Promise.all(callers);
    console.info(`killed Postgres → ten charges succeeded again in ${Date.now() - killedAt} ms`);

    const statuses = [...answers.values()];
    expect(createdAfterKill).toBeGreaterThanOrEqual(10);
    expect(new Set(statuses)).toEqual(new Set([201, 503]));
    const opsFor = async () => {
      const rows = await app.sql<{ key: string }[]>`
        SELECT idempotency_key AS key FROM ledger_operations WHERE idempotency_key LIKE ${`usage:${payer.id}:flow-%`}`;
      return rows.map((r) => r.key.slice(`usage:${payer.id}:`.length));
    };
    // Every 201 was charged once; a 503 at most once (the crash may come between commit and answer).
    const charged = await opsFor();
    expect(new Set(charged).size).toBe(charged.length);
    for (const [eventId, status] of answers) if (status === 201) expect(charged).toContain(eventId);
    expect((await api.get('/v1/balance', apiKey)).body).toMatchObject({
      available: FUNDS - 2 * charged.length,
    });

    // Retried, every 503 is charged (or replayed): exactly one charge per event in the end.
    for (const [eventId, status] of answers)
      if (status === 503) expect([200, 201]).toContain(await send(eventId));
    expect((await opsFor()).sort()).toEqual([...answers.keys()].sort());
    expect((await api.get('/v1/balance', apiKey)).body).toMatchObject({
      available: FUNDS - 2 * answers.size,
    });
    expect(await app.ledger.conservation()).toMatchObject({
      sumPosted: 0,
      postedMismatches: [],
      heldMismatches: [],
    });
  }, 120_000);
});

describe('when Postgres goes away under an open event stream', () => {
  test('then the stream ends cleanly within 5 s (the client reconnects and then sees 503), and works again after', async () => {
    const { apiKey } = await fundedUser(app.sql, app.ledger, FUNDS);
    const started = await api.post<{ id: string }>(
      '/v1/projects',
      { name: 'stream', tasks: [{ title: 't', size: 'small' }] },
      apiKey,
    );
    expect(started.status).toBe(201);
    const res = await fetch(`${app.url}/v1/projects/${started.body.id}/events`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('event: progress');

    await postgres.stop();
    try {
      const ended = await timed(async () => {
        for (;;) if ((await reader.read()).done) return 'ended';
      });
      expect({ how: ended.result, fast: ended.ms < 5000 }).toEqual({ how: 'ended', fast: true });
      const again = await timed(() => api.get(`/v1/projects/${started.body.id}/events`, apiKey));
      expect(unavailableView(again)).toEqual(UNAVAILABLE);
    } finally {
      await postgres.restart();
    }
    await until(
      'the stream to open again',
      async () => {
        const reopened = await fetch(`${app.url}/v1/projects/${started.body.id}/events`, {
          headers: { authorization: `Bearer ${apiKey}` },
        });
        await reopened.body?.cancel();
        return reopened.status === 200 ? true : null;
      },
      30_000,
    );
  }, 120_000);
});

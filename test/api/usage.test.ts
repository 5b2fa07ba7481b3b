import { randomUUID } from 'node:crypto';
import type { RateCardBody } from '../../domain';
import {
  availableOf,
  charge,
  type ErrorResponse,
  estimate,
  estimateBodyOf,
  grant,
  referencePrice,
  type UsageEvent,
  usageEvent,
} from '../metering/support';
import { http, signUp, startTestApp, type TestApp } from '../support/app';

let app: TestApp;
let api: ReturnType<typeof http>;
/** Today's prices, read from the API (rate cards are global: another file may have published one). */
let card: RateCardBody & { version: number };

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
  card = (await api.get<RateCardBody & { version: number }>('/v1/rate-card')).body;
});
afterAll(() => app.close());

async function fundedUser(credits: number) {
  const user = await signUp(api);
  if (credits > 0) await grant(api, user.id, credits);
  return user;
}

/** The ledger transfers recorded for one usage event of one user. */
async function transfersOf(userId: string, eventId: string) {
  return app.sql<{ amount: number; kind: string }[]>`
    SELECT amount, kind FROM transfers WHERE operation_key = ${`usage:${userId}:${eventId}`}`;
}

/** How many transfers ever took credits from this user. */
async function debitsOf(userId: string): Promise<number> {
  const [row] = await app.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
    WHERE a.user_id = ${userId}`;
  return row!.n;
}

const EVERY_FEATURE: [string, Omit<UsageEvent, 'eventId'>][] = [
  ['a bare conversation message', { feature: 'conversation' }],
  ['a conversation with tokens', { feature: 'conversation', inputTokens: 1234, outputTokens: 567 }],
  [
    'a conversation on the advanced model',
    { feature: 'conversation', outputTokens: 2000, model: 'advanced' },
  ],
  ['a conversation on the lite model', { feature: 'conversation', inputTokens: 3001, model: 'lite' }],
  ['a continuation', { feature: 'continuation', outputTokens: 999 }],
  ['a continuation on the advanced model', { feature: 'continuation', model: 'advanced' }],
  ['a RAG query', { feature: 'rag', inputTokens: 4000 }],
  ['a RAG query on the lite model', { feature: 'rag', outputTokens: 10, model: 'lite' }],
  ['upskilling with 1 training unit', { feature: 'upskilling', trainingUnits: 1 }],
  ['upskilling with 37 training units', { feature: 'upskilling', trainingUnits: 37 }],
];

describe('POST /v1/usage: pricing', () => {
  test.each(EVERY_FEATURE)(
    'when %s is recorded, then it is charged the rate card’s price, exactly what the estimate said',
    async (_name, input) => {
      const user = await fundedUser(10_000);
      const expected = referencePrice(card, input);
      const quote = await estimate(api, user.apiKey, input);
      expect(quote.status).toBe(200);
      expect(quote.body).toMatchObject({ kind: 'usage', credits: expected, rateCardVersion: card.version });

      const event = { ...input, eventId: `evt-${randomUUID()}` };
      const res = await charge(api, user.apiKey, event);
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        eventId: event.eventId,
        charged: expected,
        balance: 10_000 - expected,
        feature: input.feature,
        rateCardVersion: card.version,
        breakdown: quote.body.breakdown,
        replayed: false,
      });
      expect(res.body.breakdown.reduce((s, l) => s + l.credits, 0)).toBe(expected);
      expect(await availableOf(api, user.apiKey)).toBe(10_000 - expected);
      expect(await transfersOf(user.id, event.eventId)).toEqual([
        { amount: expected, kind: `usage:${input.feature}` },
      ]);
    },
  );

  test('when an agent is named, then it is kept with the charge and returned', async () => {
    const user = await fundedUser(100);
    const agentId = randomUUID();
    const event = usageEvent({ agentId });
    const res = await charge(api, user.apiKey, event);
    expect(res.status).toBe(201);
    expect(res.body.agentId).toBe(agentId);
    // The transfer carries the agent and the event as columns, not only in the memo.
    const rows = await app.sql<{ agent_id: string; cause_type: string; cause_id: string }[]>`
      SELECT agent_id, cause_type, cause_id FROM transfers WHERE operation_key = ${`usage:${user.id}:${event.eventId}`}`;
    expect(rows).toEqual([{ agent_id: agentId, cause_type: 'usage_event', cause_id: event.eventId }]);
  });

  test('when the usage shows in the transaction history, then it is one entry with the feature and version', async () => {
    const user = await fundedUser(100);
    const event = usageEvent({ feature: 'rag' });
    const res = await charge(api, user.apiKey, event);
    const history = await api.get<{ data: { amount: number; kind: string; description: string }[] }>(
      '/v1/transactions',
      user.apiKey,
    );
    expect(history.body.data[0]).toMatchObject({
      amount: -res.body.charged,
      kind: 'usage:rag',
      description: `rag (rate card v${card.version})`,
    });
  });
});

describe('POST /v1/usage: replays', () => {
  test('when the same event is sent again, then 200 returns the original and nothing moves twice', async () => {
    const user = await fundedUser(500);
    const event = usageEvent({ outputTokens: 1500, model: 'advanced' });
    const first = await charge(api, user.apiKey, event);
    expect(first.status).toBe(201);
    const again = await charge(api, user.apiKey, event);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, replayed: true });
    // The field order of the body does not matter: it is the same event.
    const reordered = Object.fromEntries(Object.entries(event).reverse());
    expect((await charge(api, user.apiKey, reordered)).status).toBe(200);
    expect(await availableOf(api, user.apiKey)).toBe(500 - first.body.charged);
    expect(await transfersOf(user.id, event.eventId)).toHaveLength(1);
  });

  test('when the same eventId comes with another body, then 409 idempotency_conflict and nothing moves', async () => {
    const user = await fundedUser(500);
    const event = usageEvent({ outputTokens: 100 });
    const first = await charge(api, user.apiKey, event);
    for (const changed of [
      { ...event, outputTokens: 101 },
      { ...event, feature: 'rag' },
      { ...event, model: 'standard' }, // the same price, but not the same request
      { ...event, agentId: randomUUID() },
    ]) {
      const res = await charge(api, user.apiKey, changed);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('idempotency_conflict');
    }
    expect(await availableOf(api, user.apiKey)).toBe(500 - first.body.charged);
    expect(await transfersOf(user.id, event.eventId)).toHaveLength(1);
  });

  test('when the same event is sent 20 times at once, then one 201, nineteen 200s, one transfer', async () => {
    const user = await fundedUser(500);
    const event = usageEvent({ feature: 'continuation', inputTokens: 10 });
    const results = await Promise.all(Array.from({ length: 20 }, () => charge(api, user.apiKey, event)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(19);
    const charged = results[0]!.body.charged;
    expect(new Set(results.map((r) => r.body.charged))).toEqual(new Set([charged]));
    expect(await availableOf(api, user.apiKey)).toBe(500 - charged);
    expect(await transfersOf(user.id, event.eventId)).toHaveLength(1);
  });

  test('when two users send the same eventId, then each is charged: event ids are per user', async () => {
    const [a, b] = [await fundedUser(100), await fundedUser(100)];
    const eventId = `shared-${randomUUID()}`;
    expect((await charge(api, a.apiKey, usageEvent({ eventId }))).status).toBe(201);
    expect((await charge(api, b.apiKey, usageEvent({ eventId }))).status).toBe(201);
    expect((await charge(api, b.apiKey, usageEvent({ eventId, feature: 'rag' }))).status).toBe(409);
  });

  test('when an event was refused for lack of credits, then the same event after a top-up is charged', async () => {
    const user = await fundedUser(0);
    const event = usageEvent();
    expect((await charge(api, user.apiKey, event)).status).toBe(402);
    await grant(api, user.id, 50);
    const res = await charge(api, user.apiKey, event);
    expect(res.status).toBe(201);
    expect(res.body.balance).toBe(50 - res.body.charged);
  });
});

describe('POST /v1/usage: not enough credits', () => {
  test('when a user with no credits records usage, then 402 names the price and the balance, and nothing moves', async () => {
    const user = await fundedUser(0);
    const input = { feature: 'upskilling' as const, trainingUnits: 4 };
    const price = (await estimate(api, user.apiKey, input)).body.credits;
    const event = { ...input, eventId: `evt-${randomUUID()}` };
    const res = await charge(api, user.apiKey, event);
    expect(res.status).toBe(402);
    expect(res.body.error.code).toBe('insufficient_credits');
    expect(res.body.error.message).toBe(
      `insufficient credits: this upskilling event costs ${price} credits, the available balance is 0 credits`,
    );
    expect(await availableOf(api, user.apiKey)).toBe(0);
    expect(await transfersOf(user.id, event.eventId)).toEqual([]);
    const [op] =
      await app.sql`SELECT 1 FROM ledger_operations WHERE idempotency_key = ${`usage:${user.id}:${event.eventId}`}`;
    expect(op).toBeUndefined();
  });

  test('when the balance is one credit short, then 402 with both numbers; with exactly enough, 201 and 0 left', async () => {
    const input = { feature: 'rag' as const, outputTokens: 3000 };
    const price = referencePrice(card, input);
    const short = await fundedUser(price - 1);
    const refused = await charge(api, short.apiKey, { ...input, eventId: 'short' });
    expect(refused.status).toBe(402);
    expect(refused.body.error.message).toContain(`costs ${price} credits`);
    expect(refused.body.error.message).toContain(`balance is ${price - 1} credits`);
    expect(await availableOf(api, short.apiKey)).toBe(price - 1);

    const exact = await fundedUser(price);
    const ok = await charge(api, exact.apiKey, { ...input, eventId: 'exact' });
    expect(ok.status).toBe(201);
    expect(ok.body.balance).toBe(0);
  });
});

describe('POST /v1/usage: bad input', () => {
  const big = 'x'.repeat(201);
  // [description, body (merged over a valid conversation event, undefined removes), field named]
  const cases: [string, string, Record<string, unknown>][] = [
    ['feature missing', 'feature', { feature: undefined }],
    ['feature a number', 'feature', { feature: 1 }],
    ['feature unknown', 'feature', { feature: 'chat' }],
    ['feature null', 'feature', { feature: null }],
    ['eventId missing', 'eventId', { eventId: undefined }],
    ['eventId a number', 'eventId', { eventId: 42 }],
    ['eventId empty', 'eventId', { eventId: '' }],
    ['eventId too long', 'eventId', { eventId: big }],
    ['model a number', 'model', { model: 3 }],
    ['model empty', 'model', { model: '' }],
    ['model too long', 'model', { model: 'm'.repeat(65) }],
    ['model unknown', 'model', { model: 'gpt-9' }],
    ['inputTokens a string', 'inputTokens', { inputTokens: '10' }],
    ['inputTokens negative', 'inputTokens', { inputTokens: -1 }],
    ['inputTokens fractional', 'inputTokens', { inputTokens: 1.5 }],
    ['inputTokens huge', 'inputTokens', { inputTokens: 1e12 }],
    ['inputTokens null', 'inputTokens', { inputTokens: null }],
    ['outputTokens a boolean', 'outputTokens', { outputTokens: true }],
    ['outputTokens negative', 'outputTokens', { outputTokens: -500 }],
    ['outputTokens huge', 'outputTokens', { outputTokens: Number.MAX_SAFE_INTEGER + 2 }],
    ['trainingUnits zero', 'trainingUnits', { feature: 'upskilling', trainingUnits: 0 }],
    ['trainingUnits negative', 'trainingUnits', { feature: 'upskilling', trainingUnits: -3 }],
    ['trainingUnits a string', 'trainingUnits', { feature: 'upskilling', trainingUnits: '3' }],
    ['trainingUnits fractional', 'trainingUnits', { feature: 'upskilling', trainingUnits: 0.5 }],
    ['trainingUnits huge', 'trainingUnits', { feature: 'upskilling', trainingUnits: 1e9 }],
    ['trainingUnits missing for upskilling', 'trainingUnits', { feature: 'upskilling' }],
    ['trainingUnits on a conversation', 'trainingUnits', { trainingUnits: 2 }],
    ['agentId not a UUID', 'agentId', { agentId: 'agent-7' }],
    ['agentId a number', 'agentId', { agentId: 7 }],
    ['an unknown field', 'colour', { colour: 'blue' }],
    ['two unknown fields', 'colour', { colour: 'blue', size: 2 }],
    ['a price sent by the client', 'credits', { credits: 1 }],
  ];

  test('when many unknown fields come, one of them very long, then the message names the first, cut short, and counts the rest', async () => {
    const user = await fundedUser(1000);
    const long = 'k'.repeat(5000);
    const extra = Object.fromEntries(
      [long, ...Array.from({ length: 1500 }, (_, i) => `x${i}`)].map((k) => [k, 1]),
    );
    const res = await charge(api, user.apiKey, { ...usageEvent(), ...extra });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(`${'k'.repeat(64)}…: is not a known field (nor are 1500 others)`);
    expect(await debitsOf(user.id)).toBe(0);
  });

  test.each(cases)(
    'when %s, then 400 names %s and the balance is unchanged',
    async (_name, field, change) => {
      const user = await fundedUser(1000);
      const body: Record<string, unknown> = { ...usageEvent(), ...change };
      for (const [k, v] of Object.entries(change)) if (v === undefined) delete body[k];
      const res = await charge(api, user.apiKey, body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
      expect(res.body.error.message).toMatch(new RegExp(`^${field}: `));
      expect(await availableOf(api, user.apiKey)).toBe(1000);
      expect(await debitsOf(user.id)).toBe(0);
    },
  );

  test.each<[string, number, string, string]>([
    ['not JSON', 400, 'body', '{"feature": "conversation",'],
    ['a JSON array', 400, 'body', '[]'],
    [
      'a number too large for JSON',
      400,
      'outputTokens',
      '{"feature":"conversation","eventId":"e","outputTokens":1e400}',
    ],
    ['empty (read as {})', 400, 'feature', ''],
    ['larger than 100kb', 413, 'body', JSON.stringify(usageEvent({ eventId: 'e'.repeat(200_000) }))],
  ])('when the body is %s, then %i naming %s, never a 500', async (_name, status, field, raw) => {
    const user = await fundedUser(1000);
    const res = await api.raw<ErrorResponse>('POST', '/v1/usage', { key: user.apiKey, raw });
    expect(res.status).toBe(status);
    expect(res.body.error.message).toMatch(new RegExp(`^${field}: `));
    expect(await availableOf(api, user.apiKey)).toBe(1000);
  });

  test('when no API key or a wrong one is sent, then 401 and nothing is charged', async () => {
    expect((await charge(api, '', usageEvent())).status).toBe(401);
    expect((await charge(api, 'ck_not-a-key', usageEvent())).status).toBe(401);
  });
});

describe('GET /v1/usage/summary', () => {
  const today = () => new Date().toISOString().slice(0, 10);

  test('when a user records usage, then today’s summary adds it up by feature and by day', async () => {
    const user = await fundedUser(10_000);
    const events = [
      usageEvent({ outputTokens: 700 }),
      usageEvent({ model: 'advanced' }),
      usageEvent({ feature: 'rag' }),
      usageEvent({ feature: 'upskilling', trainingUnits: 2 }),
    ];
    const charged: Record<string, number> = {};
    for (const e of events) {
      const res = await charge(api, user.apiKey, e);
      expect(res.status).toBe(201);
      charged[e.feature] = (charged[e.feature] ?? 0) + res.body.charged;
    }
    await charge(api, user.apiKey, events[0]); // a replay is not a second event
    await charge(api, user.apiKey, usageEvent({ feature: 'upskilling', trainingUnits: 1_000_000 })); // 402
    const other = await fundedUser(100);
    await charge(api, other.apiKey, usageEvent());

    // The transfers are stamped by the database clock; a run crossing UTC midnight spans two days.
    const day = today();
    const res = await api.get<Record<string, unknown>>(
      `/v1/usage/summary?from=${day}&to=${day}`,
      user.apiKey,
    );
    expect(res.status).toBe(200);
    const total = Object.values(charged).reduce((a, b) => a + b, 0);
    expect(res.body).toEqual({
      from: day,
      to: day,
      totalCredits: total,
      reversedCredits: 0,
      reversals: 0,
      byFeature: [
        {
          feature: 'conversation',
          credits: charged.conversation,
          events: 2,
          reversedCredits: 0,
          reversals: 0,
        },
        { feature: 'rag', credits: charged.rag, events: 1, reversedCredits: 0, reversals: 0 },
        { feature: 'upskilling', credits: charged.upskilling, events: 1, reversedCredits: 0, reversals: 0 },
      ],
      byDay: [{ day, credits: total, byFeature: charged, reversedCredits: 0 }],
    });
  });

  test('when no range is given, then it is the last 30 days up to today', async () => {
    const user = await fundedUser(100);
    await charge(api, user.apiKey, usageEvent());
    const res = await api.get<{ from: string; to: string; totalCredits: number }>(
      '/v1/usage/summary',
      user.apiKey,
    );
    expect(res.status).toBe(200);
    expect(res.body.to).toBe(today());
    expect((Date.parse(res.body.to) - Date.parse(res.body.from)) / 86_400_000).toBe(29);
    expect(res.body.totalCredits).toBeGreaterThan(0);
  });

  test('when a user has no usage, then the summary is empty', async () => {
    const user = await fundedUser(0);
    const res = await api.get('/v1/usage/summary', user.apiKey);
    expect(res.body).toMatchObject({ totalCredits: 0, byFeature: [], byDay: [] });
  });

  test.each<[string, string]>([
    ['from=yesterday', 'from'],
    ['from=2024-13-01', 'from'],
    ['from=2023-02-29', 'from'],
    ['to=2024-1-5', 'to'],
    ['to=', 'to'],
    ['from=2024-03-02&to=2024-03-01', 'from'],
    ['from=2020-01-01&to=2024-01-01', 'from'],
    ['from=2024-01-01&from=2024-01-02', 'from'],
    ['feature=rag', 'feature'],
  ])('when the query is %s, then 400 names %s', async (query, field) => {
    const user = await fundedUser(0);
    const res = await api.get<ErrorResponse>(`/v1/usage/summary?${query}`, user.apiKey);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(new RegExp(`^${field}: `));
  });

  test('when no API key is sent, then 401', async () => {
    expect((await api.get('/v1/usage/summary')).status).toBe(401);
  });
});

describe('estimates match charges', () => {
  test('when a usage body is estimated and then charged, then the estimate equals the charge, line for line', async () => {
    const user = await fundedUser(100_000);
    for (const [, input] of EVERY_FEATURE) {
      const quote = await estimate(api, user.apiKey, input);
      const res = await charge(api, user.apiKey, { ...input, eventId: randomUUID() });
      expect({ credits: res.body.charged, breakdown: res.body.breakdown }).toEqual({
        credits: quote.body.credits,
        breakdown: quote.body.breakdown,
      });
    }
  });

  test('when an estimate is asked for, then nothing moves', async () => {
    const user = await fundedUser(10);
    await estimate(api, user.apiKey, estimateBodyOf(usageEvent()));
    await estimate(api, user.apiKey, { prompt: 'Plan something big.' });
    expect(await availableOf(api, user.apiKey)).toBe(10);
  });
});

import { randomUUID } from 'node:crypto';
import type { Sql } from '../../db/pool';
import { RateCards } from '../../db/rate-cards';
import type { RateCardBody } from '../../domain';
import {
  charge,
  type ErrorResponse,
  estimate,
  grant,
  LAUNCH_CARD,
  referencePrice,
  usageEvent,
} from '../metering/support';
import { ADMIN_KEY, http, signUp, startTestApp, type TestApp } from '../support/app';
import { testPool } from '../support/db';

let app: TestApp;
let api: ReturnType<typeof http>;

interface Published extends RateCardBody {
  version: number;
  note: string | null;
  publishedAt: string;
}

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
});
afterAll(async () => {
  // Rate cards are global: leave the launch prices current for the files that run after this one.
  await publish({ note: 'launch prices again (test cleanup)', card: LAUNCH_CARD });
  await app.close();
});

function publish(body: unknown, key = ADMIN_KEY) {
  return api.post<Published & ErrorResponse>('/v1/admin/rate-cards', body, key);
}

async function current(): Promise<Published> {
  const res = await api.get<Published>('/v1/rate-card');
  expect(res.status).toBe(200);
  return res.body;
}

/** The launch card with one value replaced at a dotted path. */
function launchWith(path: string, value: unknown): Record<string, unknown> {
  const body: Record<string, unknown> = structuredClone(LAUNCH_CARD) as never;
  const keys = path.split('.');
  const parent = keys.slice(0, -1).reduce((o, k) => o[k] as Record<string, unknown>, body);
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete parent[last];
  else parent[last] = value;
  return body;
}

describe('reading rate cards', () => {
  test('when many requests find the current card stale at once, then one query reads it for all', async () => {
    const sql = testPool(2);
    let queries = 0;
    // Counts the queries RateCards sends, and sends them.
    const counting = ((...args: Parameters<Sql>) => {
      queries += 1;
      return sql(...args);
    }) as unknown as Sql;
    try {
      const cards = new RateCards(counting);
      const read = await Promise.all(Array.from({ length: 50 }, () => cards.latest()));
      expect(queries).toBe(1);
      expect(new Set(read.map((card) => card.version)).size).toBe(1);
    } finally {
      await sql.end();
    }
  });

  test('when anyone asks for version 1, then it is the launch price list', async () => {
    const res = await api.get<Published>('/v1/rate-cards/1');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ version: 1, note: 'launch prices', ...LAUNCH_CARD });
  });

  test('when anyone asks for the current card, then it needs no key and has a version', async () => {
    const card = await current();
    expect(card.version).toBeGreaterThanOrEqual(1);
    expect(Date.parse(card.publishedAt)).not.toBeNaN();
  });

  test.each<[string, number, string]>([
    ['999999', 404, 'not_found'],
    ['0', 400, 'validation_error'],
    ['abc', 400, 'validation_error'],
    ['1.5', 400, 'validation_error'],
    ['99999999999', 400, 'validation_error'],
  ])('when version %s is asked for, then %i', async (version, status, code) => {
    const res = await api.get<ErrorResponse>(`/v1/rate-cards/${version}`);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
  });

  test('when someone tries to change a published card in the database, then Postgres refuses', async () => {
    await expect(app.sql`UPDATE rate_cards SET note = 'changed' WHERE version = 1`).rejects.toThrow(
      /immutable/,
    );
    await expect(app.sql`DELETE FROM rate_cards WHERE version = 1`).rejects.toThrow(/immutable/);
  });
});

describe('POST /v1/admin/rate-cards', () => {
  test('when a user key is used, then 403; without a key, 401; nothing is published', async () => {
    const before = (await current()).version;
    const user = await signUp(api);
    expect((await publish({ card: LAUNCH_CARD }, user.apiKey)).status).toBe(403);
    expect((await api.post('/v1/admin/rate-cards', { card: LAUNCH_CARD })).status).toBe(401);
    expect((await publish({ card: LAUNCH_CARD }, 'not-the-operator-key')).status).toBe(401);
    expect((await current()).version).toBe(before);
  });

  test.each<[string, string, unknown]>([
    ['card.conversation.baseCredits', 'a negative price', -1],
    ['card.conversation.baseCredits', 'a free message', 0],
    ['card.continuation.per1kOutputTokens', 'a fractional price', 0.5],
    ['card.rag.surchargeCredits', 'a price as a string', '5'],
    ['card.upskilling.perTrainingUnit', 'a missing price', undefined],
    ['card.projectTask.large', 'a huge price', 1e9],
    ['card.models.default', 'a default model that has no multiplier', 'turbo'],
    ['card.models.multipliersBp.advanced', 'a zero multiplier', 0],
    ['card.models.multipliersBp.Big Model', 'a model name that is not an id', 20000],
    ['card.conversation.tip', 'an unknown price', 1],
  ])(
    'when the card has %s wrong (%s), then 400 names it and nothing is published',
    async (path, _why, value) => {
      const before = (await current()).version;
      const res = await publish({ card: launchWith(path.slice('card.'.length), value) });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
      expect(res.body.error.message.startsWith(`${path}: `)).toBe(true);
      expect((await current()).version).toBe(before);
    },
  );

  test.each<[string, string, unknown]>([
    ['card', 'no card', { note: 'empty' }],
    ['card', 'a card that is a list', { card: [] }],
    ['note', 'an empty note', { note: '', card: LAUNCH_CARD }],
    ['note', 'a note too long', { note: 'n'.repeat(501), card: LAUNCH_CARD }],
    ['version', 'a version chosen by the caller', { version: 99, card: LAUNCH_CARD }],
  ])('when the body has %s wrong (%s), then 400 names it', async (field, _why, body) => {
    const res = await publish(body);
    expect(res.status).toBe(400);
    expect(res.body.error.message.startsWith(`${field}: `)).toBe(true);
  });

  test('when an operator publishes a card, then new charges use the new version and replays keep their original', async () => {
    const user = await signUp(api);
    await grant(api, user.id, 100_000);
    const old = await current();
    const early = usageEvent({ outputTokens: 1500, model: 'advanced' });
    const earlyCharge = await charge(api, user.apiKey, early);
    expect(earlyCharge.status).toBe(201);
    expect(earlyCharge.body.rateCardVersion).toBe(old.version);

    // Double the message prices, retire `advanced`, add `turbo`.
    const next: RateCardBody = {
      ...structuredClone(LAUNCH_CARD),
      conversation: { baseCredits: 4, per1kInputTokens: 2, per1kOutputTokens: 8 },
      models: { default: 'standard', multipliersBp: { standard: 10_000, turbo: 25_000 } },
    };
    const published = await publish({ note: 'price change', card: next });
    expect(published.status).toBe(201);
    expect(published.body).toMatchObject({ version: old.version + 1, note: 'price change', ...next });
    expect((await current()).version).toBe(old.version + 1);

    // Estimates and charges use it at once (in this process; other API processes within a second).
    const input = { feature: 'conversation' as const, outputTokens: 1500, model: 'turbo' };
    const quote = await estimate(api, user.apiKey, input);
    expect(quote.body).toMatchObject({
      credits: referencePrice(next, input),
      rateCardVersion: old.version + 1,
    });
    const later = await charge(api, user.apiKey, { ...input, eventId: randomUUID() });
    expect(later.status).toBe(201);
    expect(later.body).toMatchObject({
      charged: referencePrice(next, input),
      rateCardVersion: old.version + 1,
    });
    const history = await api.get<{ data: { description: string }[] }>('/v1/transactions', user.apiKey);
    expect(history.body.data[0]!.description).toBe(`conversation (rate card v${old.version + 1})`);

    // The event charged before the change replays as it was: old price, old version, even though
    // its model is no longer on the card.
    const replay = await charge(api, user.apiKey, early);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ ...earlyCharge.body, replayed: true });
    // ...and the same eventId with another body is still a conflict, not a new charge.
    expect((await charge(api, user.apiKey, { ...early, outputTokens: 1 })).status).toBe(409);
    // A new event on the retired model is refused, naming the model.
    const retired = await charge(api, user.apiKey, usageEvent({ model: 'advanced' }));
    expect(retired.status).toBe(400);
    expect(retired.body.error.message).toMatch(/^model: unknown model "advanced"/);

    // The old version is still readable, unchanged.
    expect((await api.get<Published>(`/v1/rate-cards/${old.version}`)).body).toEqual(old);

    // Put the launch prices back: a new version with the old prices.
    const restored = await publish({ note: 'launch prices again', card: LAUNCH_CARD });
    expect(restored.body).toMatchObject({ version: old.version + 2, ...LAUNCH_CARD });
    const again = await charge(api, user.apiKey, usageEvent({ outputTokens: 1500, model: 'advanced' }));
    expect(again.body).toMatchObject({ charged: earlyCharge.body.charged, rateCardVersion: old.version + 2 });
  });

  test('when operators publish at the same time, then each gets its own consecutive version', async () => {
    const before = (await current()).version;
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => publish({ note: `concurrent ${i}`, card: LAUNCH_CARD })),
    );
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    expect(results.map((r) => r.body.version).sort((a, b) => a - b)).toEqual(
      [1, 2, 3, 4, 5].map((d) => before + d),
    );
    expect((await current()).version).toBe(before + 5);
  });
});

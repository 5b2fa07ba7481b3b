import { randomUUID } from 'node:crypto';
import { charge, usageEvent } from '../metering/support';
import { http, startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';

/**
 * DESIGN.md §11: creators publish agents; users rate agents they have been charged for (1–5
 * stars, one rating per user and agent, a new one replaces the old; never your own agent).
 */
let app: TestApp;
let api: ReturnType<typeof http>;

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
});
afterAll(() => app.close());

interface AgentBody {
  id: string;
  name: string;
  description: string | null;
  creatorId: string;
  rating: number | null;
  ratingsCount: number;
  createdAt: string;
}

interface RatingBody {
  agentId: string;
  stars: number;
  comment: string | null;
  agent: AgentBody;
}

interface ErrorBody {
  error: { code: string; message: string };
}

/** A user with credits to be charged for agents. */
async function user(credits = 1000) {
  const { user: u, apiKey } = await fundedUser(app.sql, app.ledger, credits);
  return { id: u.id, apiKey };
}

async function publish(apiKey: string, body: Record<string, unknown> = { name: 'Researcher' }) {
  const res = await api.post<AgentBody>('/v1/agents', body, apiKey);
  if (res.status !== 201) throw new Error(`publish failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** One usage charge attributed to the agent: what makes a user allowed to rate it. */
async function chargeFor(apiKey: string, agentId: string) {
  const res = await charge(api, apiKey, usageEvent({ agentId }));
  if (res.status !== 201) throw new Error(`charge failed: ${res.status} ${JSON.stringify(res.body)}`);
}

function rate(apiKey: string, agentId: string, body: unknown) {
  return api.post<RatingBody & ErrorBody>(`/v1/agents/${agentId}/ratings`, body, apiKey);
}

/** Every published agent, page by page (`limit` small, so the cursor is exercised). */
async function allAgents(apiKey: string, limit: number): Promise<AgentBody[]> {
  const seen: AgentBody[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `?limit=${limit}&cursor=${cursor}` : `?limit=${limit}`;
    const res = await api.get<{ data: AgentBody[]; nextCursor: string | null }>(`/v1/agents${query}`, apiKey);
    expect(res.status).toBe(200);
    expect(res.body.data.length).toBeLessThanOrEqual(limit);
    seen.push(...res.body.data);
    cursor = res.body.nextCursor;
  } while (cursor !== null);
  return seen;
}

/** 400 `validation_error` whose message starts with the field's name. */
function expectRefused(res: { status: number; body: unknown }, field: string) {
  expect(res.status).toBe(400);
  expect((res.body as ErrorBody).error.code).toBe('validation_error');
  expect((res.body as ErrorBody).error.message.startsWith(`${field}: `)).toBe(true);
}

describe('publishing and showing agents', () => {
  test('when a creator publishes an agent, then it answers 201 unrated and is shown and listed', async () => {
    const creator = await user(0);
    const res = await api.post<AgentBody>(
      '/v1/agents',
      { name: 'Code reviewer', description: 'Reads diffs.\nSays what breaks.' },
      creator.apiKey,
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'Code reviewer',
      description: 'Reads diffs.\nSays what breaks.',
      creatorId: creator.id,
      rating: null,
      ratingsCount: 0,
      createdAt: expect.any(String),
    });
    const other = await user(0);
    expect((await api.get(`/v1/agents/${res.body.id}`, other.apiKey)).body).toEqual(res.body);
    expect((await allAgents(other.apiKey, 100)).find((a) => a.id === res.body.id)).toEqual(res.body);
  });

  test('when an agent is published without a description, then its description is null', async () => {
    const creator = await user(0);
    expect((await publish(creator.apiKey, { name: 'Plain' })).description).toBeNull();
  });

  test('when the same Idempotency-Key publishes twice, then one agent exists; another body is a 409', async () => {
    const creator = await user(0);
    const headers = { 'idempotency-key': randomUUID() };
    const first = await api.post<AgentBody>('/v1/agents', { name: 'Once' }, creator.apiKey, headers);
    const again = await api.post<AgentBody>('/v1/agents', { name: 'Once' }, creator.apiKey, headers);
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const conflict = await api.post('/v1/agents', { name: 'Other' }, creator.apiKey, headers);
    expect(conflict.status).toBe(409);
  });

  test('when an unknown agent is asked for, then 404; a malformed id is a 400 naming id', async () => {
    const someone = await user(0);
    const missing = await api.get<ErrorBody>(`/v1/agents/${randomUUID()}`, someone.apiKey);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expectRefused(await api.get(`/v1/agents/not-a-uuid`, someone.apiKey), 'id');
    expect((await rate(someone.apiKey, randomUUID(), { stars: 4 })).status).toBe(404);
  });

  test('when no API key is given, then agents answer 401', async () => {
    expect((await api.get('/v1/agents')).status).toBe(401);
    expect((await api.post('/v1/agents', { name: 'x' })).status).toBe(401);
  });

  test.each<[string, string, Record<string, unknown>]>([
    ['no name', 'name', {}],
    ['a blank name', 'name', { name: '   ' }],
    ['an empty name', 'name', { name: '' }],
    ['a name with a control character', 'name', { name: 'bad\u0007name' }],
    ['a name with a line break', 'name', { name: 'two\nlines' }],
    ['a name of 201 characters', 'name', { name: 'n'.repeat(201) }],
    ['a name that is a number', 'name', { name: 7 }],
    ['a description of 2001 characters', 'description', { name: 'ok', description: 'd'.repeat(2001) }],
    ['a description with NUL', 'description', { name: 'ok', description: 'a\u0000b' }],
    ['an unknown field', 'creatorId', { name: 'ok', creatorId: randomUUID() }],
  ])(
    'when an agent is published with %s, then 400 names %s and nothing is published',
    async (_, field, body) => {
      const creator = await user(0);
      expectRefused(await api.post('/v1/agents', body, creator.apiKey), field);
      const [row] = await app.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM agents WHERE creator_id = ${creator.id}`;
      expect(row!.n).toBe(0);
    },
  );

  test.each<[string, string, string]>([
    ['a limit of 0', 'limit', '?limit=0'],
    ['a limit of 101', 'limit', '?limit=101'],
    ['a cursor that is not an agent id', 'cursor', '?cursor=abc'],
    ['a cursor that names no agent', 'cursor', `?cursor=${randomUUID()}`],
    ['an unknown parameter', 'sort', '?sort=name'],
  ])('when agents are listed with %s, then 400 names %s', async (_, field, query) => {
    const someone = await user(0);
    expectRefused(await api.get(`/v1/agents${query}`, someone.apiKey), field);
  });
});

describe('rating agents', () => {
  test('when a user who was never charged for an agent rates it, then 403 and no rating is kept', async () => {
    const creator = await user(0);
    const agent = await publish(creator.apiKey);
    const stranger = await user();
    const other = await publish(creator.apiKey, { name: 'Another agent' });
    await chargeFor(stranger.apiKey, other.id); // charged for another agent: not this one
    const res = await rate(stranger.apiKey, agent.id, { stars: 5 });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect((await api.get<AgentBody>(`/v1/agents/${agent.id}`, stranger.apiKey)).body).toMatchObject({
      rating: null,
      ratingsCount: 0,
    });
  });

  test('when a user whose only charge for an agent was reversed rates it, then 403; charged again, 201', async () => {
    const creator = await user(0);
    const agent = await publish(creator.apiKey);
    const payer = await user();
    const event = usageEvent({ agentId: agent.id });
    expect((await charge(api, payer.apiKey, event)).status).toBe(201);
    const reversed = await api.post(
      `/v1/usage/${event.eventId}/reversal`,
      { reason: 'the action failed' },
      payer.apiKey,
    );
    expect(reversed.status).toBe(201);
    const refused = await rate(payer.apiKey, agent.id, { stars: 1 });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    await chargeFor(payer.apiKey, agent.id);
    expect((await rate(payer.apiKey, agent.id, { stars: 4 })).status).toBe(201);
  });

  test('when a creator rates their own agent, then 403, even after being charged for it', async () => {
    const creator = await user();
    const agent = await publish(creator.apiKey);
    await chargeFor(creator.apiKey, agent.id);
    const res = await rate(creator.apiKey, agent.id, { stars: 5 });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain('own agent');
  });

  test('when a charged user rates, then 201; rating again replaces it with 200 and the mean follows', async () => {
    const creator = await user(0);
    const agent = await publish(creator.apiKey);
    const [a, b] = [await user(), await user()];
    await chargeFor(a.apiKey, agent.id);
    await chargeFor(b.apiKey, agent.id);

    const first = await rate(a.apiKey, agent.id, { stars: 4, comment: 'Good.\nFast.' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      agentId: agent.id,
      stars: 4,
      comment: 'Good.\nFast.',
      agent: { id: agent.id, rating: 4, ratingsCount: 1 },
    });
    expect((await rate(b.apiKey, agent.id, { stars: 5 })).body.agent).toMatchObject({
      rating: 4.5,
      ratingsCount: 2,
    });

    const replaced = await rate(a.apiKey, agent.id, { stars: 2 });
    expect(replaced.status).toBe(200);
    // The new rating replaces the old one whole: no comment given, none kept.
    expect(replaced.body).toMatchObject({ stars: 2, comment: null, agent: { rating: 3.5, ratingsCount: 2 } });
    expect((await api.get<AgentBody>(`/v1/agents/${agent.id}`, a.apiKey)).body).toMatchObject({
      rating: 3.5,
      ratingsCount: 2,
    });
  });

  test('when the mean has more than 2 decimals, then rating is rounded to 2', async () => {
    const creator = await user(0);
    const agent = await publish(creator.apiKey);
    const raters = [await user(), await user(), await user()];
    for (const [i, r] of raters.entries()) {
      await chargeFor(r.apiKey, agent.id);
      expect((await rate(r.apiKey, agent.id, { stars: i === 0 ? 4 : 5 })).status).toBe(201);
    }
    // (4 + 5 + 5) / 3 = 4.666…
    expect((await api.get<AgentBody>(`/v1/agents/${agent.id}`, creator.apiKey)).body.rating).toBe(4.67);
  });

  test('when one user sends two ratings at once, then one rating row exists and it counts once', async () => {
    const creator = await user(0);
    const agent = await publish(creator.apiKey);
    const rater = await user();
    await chargeFor(rater.apiKey, agent.id);
    const answers = await Promise.all([
      rate(rater.apiKey, agent.id, { stars: 1 }),
      rate(rater.apiKey, agent.id, { stars: 5 }),
    ]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 201]);
    const rows = await app.sql<{ stars: number }[]>`
      SELECT stars FROM agent_ratings WHERE agent_id = ${agent.id} AND user_id = ${rater.id}`;
    expect(rows).toHaveLength(1);
    const shown = (await api.get<AgentBody>(`/v1/agents/${agent.id}`, rater.apiKey)).body;
    // The later of the two wins; either way the agent's stars are that one rating's.
    expect(shown).toMatchObject({ ratingsCount: 1, rating: rows[0]!.stars });
  });

  test('when many users rate one agent at once, then the count and mean are exact', async () => {
    const creator = await user(0);
    const agent = await publish(creator.apiKey);
    const raters = await Promise.all(Array.from({ length: 8 }, () => user()));
    await Promise.all(raters.map((r) => chargeFor(r.apiKey, agent.id)));
    const stars = [1, 2, 3, 4, 5, 5, 4, 3];
    const answers = await Promise.all(raters.map((r, i) => rate(r.apiKey, agent.id, { stars: stars[i] })));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect((await api.get<AgentBody>(`/v1/agents/${agent.id}`, creator.apiKey)).body).toMatchObject({
      ratingsCount: 8,
      rating: 3.38, // 27 / 8 = 3.375, rounded half away from zero
    });
  });

  test.each<[string, string, unknown]>([
    ['0 stars', 'stars', { stars: 0 }],
    ['6 stars', 'stars', { stars: 6 }],
    ['2.5 stars', 'stars', { stars: 2.5 }],
    ['stars as a string', 'stars', { stars: '5' }],
    ['no stars', 'stars', {}],
    ['null stars', 'stars', { stars: null }],
    ['a comment with a control character', 'comment', { stars: 3, comment: 'a\u001bb' }],
    ['a comment of 2001 characters', 'comment', { stars: 3, comment: 'c'.repeat(2001) }],
    ['a blank comment', 'comment', { stars: 3, comment: ' ' }],
    ['an unknown field', 'userId', { stars: 3, userId: randomUUID() }],
    ['a body that is an array', 'body', [5]],
  ])('when a rating has %s, then 400 names %s and nothing is rated', async (_, field, body) => {
    const creator = await user(0);
    const agent = await publish(creator.apiKey);
    const rater = await user();
    await chargeFor(rater.apiKey, agent.id);
    expectRefused(await rate(rater.apiKey, agent.id, body), field);
    const [row] = await app.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM agent_ratings WHERE agent_id = ${agent.id}`;
    expect(row!.n).toBe(0);
  });

  test('when a rating names a malformed agent id, then 400 names id', async () => {
    const rater = await user();
    expectRefused(await rate(rater.apiKey, 'agent-7', { stars: 3 }), 'id');
  });

  test('when something tries to change an agent’s creator, then the database refuses', async () => {
    const creator = await user(0);
    const agent = await publish(creator.apiKey);
    const other = await user(0);
    await expect(app.sql`UPDATE agents SET creator_id = ${other.id} WHERE id = ${agent.id}`).rejects.toThrow(
      /cannot change/,
    );
  });
});

describe('listing agents best rated first', () => {
  test('when agents have different ratings, then the list is by rating, then ratings count, then age, then id', async () => {
    const creator = await user(0);
    // Published in this order; expected order by rating: top (5.00 ×2), five (5.00 ×1), three, old, young.
    const old = await publish(creator.apiKey, { name: 'unrated, older' });
    const young = await publish(creator.apiKey, { name: 'unrated, younger' });
    const three = await publish(creator.apiKey, { name: 'three stars' });
    const five = await publish(creator.apiKey, { name: 'five stars once' });
    const top = await publish(creator.apiKey, { name: 'five stars twice' });
    const [a, b] = [await user(), await user()];
    for (const [rater, agent, stars] of [
      [a, three, 3],
      [a, five, 5],
      [a, top, 5],
      [b, top, 5],
    ] as const) {
      await chargeFor(rater.apiKey, agent.id);
      expect((await rate(rater.apiKey, agent.id, { stars })).status).toBe(201);
    }

    const listed = await allAgents(a.apiKey, 2);
    expect(new Set(listed.map((x) => x.id)).size).toBe(listed.length); // pages neither repeat nor overlap
    const mine = new Set([old.id, young.id, three.id, five.id, top.id]);
    expect(listed.filter((x) => mine.has(x.id)).map((x) => x.name)).toEqual([
      'five stars twice',
      'five stars once',
      'three stars',
      'unrated, older',
      'unrated, younger',
    ]);
    // The whole list (other files' agents too) keeps the same order, pair by pair.
    const key = (x: AgentBody) => [x.rating === null ? 1 : -x.rating, -x.ratingsCount] as const;
    for (let i = 1; i < listed.length; i++) {
      const [before, after] = [key(listed[i - 1]!), key(listed[i]!)];
      expect(before[0] < after[0] || (before[0] === after[0] && before[1] <= after[1])).toBe(true);
    }
  });
});

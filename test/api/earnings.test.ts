import { randomUUID } from 'node:crypto';
import { insertAgent } from '../../db/agents';
import type { RateCardBody } from '../../domain';
import { grant } from '../metering/support';
import { http, signUp, startTestApp, type TestApp } from '../support/app';

/**
 * DESIGN.md §11: every charge attributed to an agent pays its creator's share (creatorShareBp,
 * rounded down) into their earned bucket in the same ledger operation; using your own agent
 * earns nothing; earned credits clear after EARNINGS_CLEARING_SECONDS (2 s in tests).
 */
let app: TestApp;
let api: ReturnType<typeof http>;
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

async function publishedAgent(creatorId: string, name = 'Researcher'): Promise<string> {
  const id = randomUUID();
  await insertAgent(app.sql, { id, creatorId, name, description: null, requestHash: id });
  return id;
}

interface Earnings {
  totalCredits: number;
  pendingCredits: number;
  withdrawableCredits: number;
  byAgent: { agentId: string; name: string | null; credits: number; uses: number }[];
  byDay: { day: string; credits: number }[];
}

const upskilling = (agentId: string, trainingUnits = 1) => ({
  feature: 'upskilling',
  trainingUnits,
  eventId: randomUUID(),
  agentId,
});

describe('a usage charge for an agent', () => {
  test('when another user is charged, then the creator earns the share in the same operation, pending until it clears', async () => {
    const creator = await fundedUser(0);
    const payer = await fundedUser(10_000);
    const agentId = await publishedAgent(creator.id);
    const event = upskilling(agentId, 3);
    const charged = await api.post<{ charged: number }>('/v1/usage', event, payer.apiKey);
    expect(charged.status).toBe(201);
    const share = Math.floor((charged.body.charged * card.creatorShareBp) / 10_000);
    expect(share).toBeGreaterThan(0);

    const rows = await app.sql<{ kind: string; amount: number; agent_id: string }[]>`
      SELECT kind, amount, agent_id FROM transfers WHERE operation_key = ${`usage:${payer.id}:${event.eventId}`} ORDER BY id`;
    expect(rows).toEqual([
      { kind: 'usage:upskilling', amount: charged.body.charged, agent_id: agentId },
      { kind: 'creator_share', amount: share, agent_id: agentId },
    ]);
    // A replay pays nothing more.
    expect((await api.post('/v1/usage', event, payer.apiKey)).status).toBe(200);

    const pending = await api.get<Earnings>('/v1/earnings', creator.apiKey);
    expect(pending.body).toMatchObject({
      totalCredits: share,
      pendingCredits: share,
      withdrawableCredits: 0,
      byAgent: [{ agentId, name: 'Researcher', credits: share, uses: 1 }],
      byDay: [{ day: new Date().toISOString().slice(0, 10), credits: share }],
    });
    const balance = await api.get<{ available: number; buckets: { earned: { withdrawable: number } } }>(
      '/v1/balance',
      creator.apiKey,
    );
    expect(balance.body).toMatchObject({ available: share, buckets: { earned: { withdrawable: 0 } } });

    await new Promise((resolve) => setTimeout(resolve, 2100));
    const cleared = await api.get<Earnings>('/v1/earnings', creator.apiKey);
    expect(cleared.body).toMatchObject({
      totalCredits: share,
      pendingCredits: 0,
      withdrawableCredits: share,
    });
    expect(
      (await api.get<{ buckets: { earned: { withdrawable: number } } }>('/v1/balance', creator.apiKey)).body
        .buckets.earned.withdrawable,
    ).toBe(share);
  });

  test('when the creator uses their own agent, then they earn nothing', async () => {
    const creator = await fundedUser(1000);
    const agentId = await publishedAgent(creator.id);
    const res = await api.post<{ charged: number; balance: number }>(
      '/v1/usage',
      upskilling(agentId),
      creator.apiKey,
    );
    expect(res.status).toBe(201);
    expect(res.body.balance).toBe(1000 - res.body.charged);
    expect((await api.get<Earnings>('/v1/earnings', creator.apiKey)).body.totalCredits).toBe(0);
  });

  test('when the agent id names no published agent, then the charge goes through and pays no share', async () => {
    const payer = await fundedUser(1000);
    const event = upskilling(randomUUID());
    expect((await api.post('/v1/usage', event, payer.apiKey)).status).toBe(201);
    const [row] = await app.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM transfers WHERE operation_key = ${`usage:${payer.id}:${event.eventId}`}`;
    expect(row!.n).toBe(1);
  });

  test('when charges for two agents add up, then earnings are summed by agent, best earning first', async () => {
    const creator = await fundedUser(0);
    const payer = await fundedUser(10_000);
    const [big, small] = [await publishedAgent(creator.id, 'Big'), await publishedAgent(creator.id, 'Small')];
    const charges = [upskilling(big, 5), upskilling(big, 5), upskilling(small, 1)];
    const charged: number[] = [];
    for (const event of charges)
      charged.push((await api.post<{ charged: number }>('/v1/usage', event, payer.apiKey)).body.charged);
    const shareOf = (credits: number) => Math.floor((credits * card.creatorShareBp) / 10_000);
    const res = await api.get<Earnings>('/v1/earnings', creator.apiKey);
    expect(res.body.byAgent).toEqual([
      { agentId: big, name: 'Big', credits: shareOf(charged[0]!) + shareOf(charged[1]!), uses: 2 },
      { agentId: small, name: 'Small', credits: shareOf(charged[2]!), uses: 1 },
    ]);
  });
});

describe('GET /v1/earnings with a bad range', () => {
  test.each([
    ['from after to', '?from=2026-02-02&to=2026-02-01', 'from'],
    ['year 0', '?from=0000-01-01', 'from'],
    ['not a day', '?to=yesterday', 'to'],
    ['more than a year', '?from=2024-01-01&to=2026-01-01', 'from'],
  ])('when %s, then 400 names the field', async (_what, query, field) => {
    const user = await fundedUser(0);
    const res = await api.get<{ error: { code: string; message: string } }>(
      `/v1/earnings${query}`,
      user.apiKey,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(new RegExp(`^${field}\\b`));
  });

  test('when no key is given, then 401', async () => {
    expect((await api.get('/v1/earnings')).status).toBe(401);
  });
});

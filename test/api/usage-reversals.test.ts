import { randomUUID } from 'node:crypto';
import { createApp } from '../../api/app';
import { listen } from '../../api/server';
import { describeWindow, USAGE_REVERSAL_WINDOW_SECONDS } from '../../app/usage-reversals';
import { insertAgent } from '../../db/agents';
import type { RateCardBody } from '../../domain';
import { grant } from '../metering/support';
import { projectsApi, tasks } from '../projects/support';
import { ADMIN_KEY, http, signUp, startTestApp, type TestApp } from '../support/app';
import { sleep } from '../support/wait';
import { startTestWorker, type TestWorker } from '../support/worker';

/**
 * DESIGN.md §12, reversals of failed AI actions: `POST /v1/usage/:eventId/reversal {reason}` by
 * the event's owner, within 7 days: the charge and its creator share go back in one ledger
 * operation, exactly once; a creator who spent the share does not block the refund.
 */
let app: TestApp;
let api: ReturnType<typeof http>;
let card: RateCardBody & { version: number };

beforeAll(async () => {
  // A paused project waits 10 minutes before re-checking: whatever resumes one here is a signal.
  app = await startTestApp({ projects: { recheckSeconds: 600, tasksPerRun: 50 } });
  api = http(app.url);
  card = (await api.get<RateCardBody & { version: number }>('/v1/rate-card')).body;
});
afterAll(() => app.close());

interface Reversal {
  eventId: string;
  reversedCredits: number;
  creatorShareReversed: number;
  creatorShareShortfall: number;
  reason: string;
  createdAt: string;
  balance: number;
  replayed: boolean;
}
interface ErrorBody {
  error: { code: string; message: string };
}
type Api = ReturnType<typeof http>;

async function fundedUser(credits: number) {
  const user = await signUp(api);
  if (credits > 0) await grant(api, user.id, credits);
  return user;
}

async function publishedAgent(creatorId: string): Promise<string> {
  const id = randomUUID();
  await insertAgent(app.sql, { id, creatorId, name: 'Flaky agent', description: null, requestHash: id });
  return id;
}

/** Charges one upskilling event (20 credits a unit on the launch card), for an agent when given. */
async function charged(key: string, units: number, agentId?: string, client: Api = api) {
  const eventId = `evt-${randomUUID()}`;
  const res = await client.post<{ charged: number }>(
    '/v1/usage',
    { feature: 'upskilling', trainingUnits: units, eventId, ...(agentId ? { agentId } : {}) },
    key,
  );
  expect(res.status).toBe(201);
  return { eventId, charged: res.body.charged };
}

function reverse(
  key: string,
  eventId: string,
  body: unknown = { reason: 'the agent crashed' },
  client = api,
) {
  return client.post<Reversal & ErrorBody>(`/v1/usage/${encodeURIComponent(eventId)}/reversal`, body, key);
}

const available = async (key: string) =>
  (await api.get<{ available: number }>('/v1/balance', key)).body.available;
const earned = async (key: string) =>
  (await api.get<{ buckets: { earned: { posted: number; available: number } } }>('/v1/balance', key)).body
    .buckets.earned;
const shareOf = (credits: number) => Math.floor((credits * card.creatorShareBp) / 10_000);

/** The ledger operations that reverse the user's event (at most one, by the database's rule). */
async function reversalsInLedger(userId: string, eventId: string) {
  return app.sql<{ idempotency_key: string }[]>`
    SELECT idempotency_key FROM ledger_operations WHERE reverses = ${`usage:${userId}:${eventId}`}`;
}

async function transferCount(): Promise<number> {
  const [row] = await app.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM transfers`;
  return row!.n;
}

describe('POST /v1/usage/:eventId/reversal', () => {
  test('when the owner reverses a charge for an agent, then the charge comes back and the share leaves the creator, in one operation', async () => {
    const creator = await fundedUser(0);
    const payer = await fundedUser(1000);
    const agentId = await publishedAgent(creator.id);
    const { eventId, charged: cost } = await charged(payer.apiKey, 3, agentId);
    const share = shareOf(cost);
    expect(share).toBeGreaterThan(0);
    expect(await earned(creator.apiKey)).toMatchObject({ posted: share });

    const res = await reverse(payer.apiKey, eventId);
    expect(res.status).toBe(201);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
    expect(res.body).toEqual({
      eventId,
      reversedCredits: cost,
      creatorShareReversed: share,
      creatorShareShortfall: 0,
      reason: 'the agent crashed',
      createdAt: expect.any(String),
      balance: 1000,
      replayed: false,
    });
    expect(await available(payer.apiKey)).toBe(1000);
    expect(await earned(creator.apiKey)).toMatchObject({ posted: 0, available: 0 });
    const ops = await reversalsInLedger(payer.id, eventId);
    expect(ops).toEqual([{ idempotency_key: `usage-reversal:${payer.id}:${eventId}` }]);
    const legs = await app.sql<{ kind: string; amount: number; agent_id: string }[]>`
      SELECT kind, amount, agent_id FROM transfers WHERE operation_key = ${ops[0]!.idempotency_key} ORDER BY id`;
    expect(legs).toEqual([
      { kind: 'usage_reversal', amount: cost, agent_id: agentId },
      { kind: 'usage_reversal', amount: share, agent_id: agentId },
    ]);
  });

  test('when another user names the event, then 404 as for an unknown one, and nothing moves', async () => {
    const owner = await fundedUser(100);
    const stranger = await fundedUser(100);
    const { eventId } = await charged(owner.apiKey, 1);
    const before = await transferCount();

    const theirs = await reverse(stranger.apiKey, eventId);
    const unknown = await reverse(stranger.apiKey, `evt-${randomUUID()}`);
    expect(theirs.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(theirs.body.error.code).toBe('not_found');
    // The same answer for someone else's event as for no event: nothing says it exists.
    expect(theirs.body.error.message.replace(eventId, 'X')).toBe(
      unknown.body.error.message.replace(/evt-[0-9a-f-]+/, 'X'),
    );
    expect(await transferCount()).toBe(before);
    expect(await available(owner.apiKey)).toBe(80);
    expect(await reversalsInLedger(owner.id, eventId)).toEqual([]);
  });

  test('when no API key or a wrong one is sent, then 401', async () => {
    const owner = await fundedUser(100);
    const { eventId } = await charged(owner.apiKey, 1);
    expect((await reverse('', eventId)).status).toBe(401);
    expect((await reverse('ck_not-a-key', eventId)).status).toBe(401);
    expect(await available(owner.apiKey)).toBe(80);
  });

  test('when it is asked again, then it answers the first reversal with Idempotent-Replayed and moves nothing', async () => {
    const payer = await fundedUser(100);
    const { eventId } = await charged(payer.apiKey, 2);
    const first = await reverse(payer.apiKey, eventId, { reason: 'timed out' });
    expect(first.status).toBe(201);
    const before = await transferCount();

    const again = await reverse(payer.apiKey, eventId, { reason: 'a different story' });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual({ ...first.body, replayed: true });
    expect(again.body.reason).toBe('timed out');
    expect(await transferCount()).toBe(before);
    expect(await available(payer.apiKey)).toBe(100);
  });

  test('when ten reversals of one event race, then it moves once and all answer the same reversal', async () => {
    const creator = await fundedUser(0);
    const payer = await fundedUser(1000);
    const agentId = await publishedAgent(creator.id);
    const { eventId, charged: cost } = await charged(payer.apiKey, 5, agentId);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => reverse(payer.apiKey, eventId, { reason: `attempt ${i}` })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    const first = results.find((r) => r.status === 201)!.body;
    for (const r of results) {
      expect(r.body).toMatchObject({
        reversedCredits: cost,
        creatorShareReversed: shareOf(cost),
        reason: first.reason,
        createdAt: first.createdAt,
      });
    }
    expect(await reversalsInLedger(payer.id, eventId)).toHaveLength(1);
    const [moved] = await app.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM transfers WHERE operation_key = ${`usage-reversal:${payer.id}:${eventId}`}`;
    expect(moved!.n).toBe(2);
    expect(await available(payer.apiKey)).toBe(1000);
    expect(await earned(creator.apiKey)).toMatchObject({ posted: 0 });
  });

  test('when the creator already spent part of the share, then the payer gets the charge back less the shortfall, which is recorded', async () => {
    const creator = await fundedUser(0);
    const payer = await fundedUser(1000);
    const agentId = await publishedAgent(creator.id);
    const { eventId, charged: cost } = await charged(payer.apiKey, 3, agentId);
    const share = shareOf(cost);
    // The creator spends most of what they earned: 2 credits + 1 a thousand input tokens.
    const spend = await api.post<{ charged: number }>(
      '/v1/usage',
      { feature: 'conversation', eventId: `evt-${randomUUID()}`, inputTokens: (share - 4) * 1000 },
      creator.apiKey,
    );
    expect(spend.status).toBe(201);
    const left = share - spend.body.charged;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(share);

    const res = await reverse(payer.apiKey, eventId);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      reversedCredits: cost - (share - left),
      creatorShareReversed: left,
      creatorShareShortfall: share - left,
      balance: 1000 - (share - left),
    });
    expect(await available(payer.apiKey)).toBe(1000 - (share - left));
    expect(await earned(creator.apiKey)).toMatchObject({ posted: 0, available: 0 });
    const [row] = await app.sql<
      { credits: number; creator_share_reversed: number; creator_shortfall: number }[]
    >`
      SELECT credits, creator_share_reversed, creator_shortfall FROM usage_reversals
      WHERE user_id = ${payer.id} AND event_id = ${eventId}`;
    expect(row).toEqual({
      credits: cost - (share - left),
      creator_share_reversed: left,
      creator_shortfall: share - left,
    });
    const [negative] = await app.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM accounts WHERE NOT allow_negative AND posted - held < 0`;
    expect(negative!.n).toBe(0);

    // Earnings keep what the creator could not give back.
    const earnings = await api.get<{ totalCredits: number; byAgent: { agentId: string; credits: number }[] }>(
      '/v1/earnings',
      creator.apiKey,
    );
    expect(earnings.body.totalCredits).toBe(share - left);
    expect(earnings.body.byAgent).toEqual([expect.objectContaining({ agentId, credits: share - left })]);
  });

  test('when the creator spent all of the share, then the payer gets back what the platform kept', async () => {
    const creator = await fundedUser(0);
    const payer = await fundedUser(1000);
    const agentId = await publishedAgent(creator.id);
    const { eventId, charged: cost } = await charged(payer.apiKey, 1, agentId);
    const share = shareOf(cost);
    const spend = await api.post(
      '/v1/usage',
      { feature: 'conversation', eventId: `evt-${randomUUID()}`, inputTokens: (share - 2) * 1000 },
      creator.apiKey,
    );
    expect(spend.status).toBe(201);
    expect(await earned(creator.apiKey)).toMatchObject({ posted: 0 });

    const res = await reverse(payer.apiKey, eventId);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      reversedCredits: cost - share,
      creatorShareReversed: 0,
      creatorShareShortfall: share,
      balance: 1000 - share,
    });
    expect(await earned(creator.apiKey)).toMatchObject({ posted: 0 });
    expect((await reverse(payer.apiKey, eventId)).status).toBe(200);
  });

  test('when the creator spent the share on a second creator’s agent and the charge is reversed, then the three accounts end with less than they began, never more', async () => {
    // The loop a reversal must not pay for: a payer charges creator A's agent, A spends the share
    // on creator B's agent (B earns a share of it, which clears), the payer reverses the charge.
    const a = await fundedUser(0);
    const b = await fundedUser(0);
    const payer = await fundedUser(1000);
    const agentA = await publishedAgent(a.id);
    const agentB = await publishedAgent(b.id);
    const { eventId, charged: cost } = await charged(payer.apiKey, 5, agentA);
    const share = shareOf(cost);
    const spend = await api.post<{ charged: number }>(
      '/v1/usage',
      {
        feature: 'conversation',
        eventId: `evt-${randomUUID()}`,
        inputTokens: (share - 2) * 1000,
        agentId: agentB,
      },
      a.apiKey,
    );
    expect(spend.status).toBe(201);
    expect(spend.body.charged).toBe(share);
    expect(await earned(a.apiKey)).toMatchObject({ posted: 0 });
    const bEarned = shareOf(share);
    expect(bEarned).toBeGreaterThan(0);
    expect(await earned(b.apiKey)).toMatchObject({ posted: bEarned });

    const res = await reverse(payer.apiKey, eventId);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ reversedCredits: cost - share, creatorShareShortfall: share });
    const total = (await available(payer.apiKey)) + (await available(a.apiKey)) + (await available(b.apiKey));
    expect(total).toBe(1000 - share + bEarned);
    expect(total).toBeLessThan(1000);
  });

  test('when the share is reversed in full, then the creator’s earnings net it to nothing', async () => {
    const creator = await fundedUser(0);
    const payer = await fundedUser(1000);
    const agentId = await publishedAgent(creator.id);
    const kept = await charged(payer.apiKey, 2, agentId);
    const failed = await charged(payer.apiKey, 3, agentId);
    expect((await reverse(payer.apiKey, failed.eventId)).status).toBe(201);
    const earnings = await api.get<{
      totalCredits: number;
      byAgent: { agentId: string; credits: number; uses: number }[];
      byDay: { credits: number }[];
    }>('/v1/earnings', creator.apiKey);
    expect(earnings.body.totalCredits).toBe(shareOf(kept.charged));
    expect(earnings.body.byAgent).toEqual([
      expect.objectContaining({ agentId, credits: shareOf(kept.charged), uses: 2 }),
    ]);
    expect(earnings.body.byDay.reduce((s, d) => s + d.credits, 0)).toBe(shareOf(kept.charged));
  });
});

describe('bad input', () => {
  const expectRefused = (res: { status: number; body: unknown }, field: string) => {
    expect(res.status).toBe(400);
    expect((res.body as ErrorBody).error.code).toBe('validation_error');
    expect((res.body as ErrorBody).error.message).toMatch(new RegExp(`^${field}: `));
  };

  test('when the reason is missing, empty, blank, too long, has NUL or other controls, or fields are unknown, then 400 naming it and nothing moves', async () => {
    const payer = await fundedUser(100);
    const { eventId } = await charged(payer.apiKey, 1);
    const before = await transferCount();
    expectRefused(await reverse(payer.apiKey, eventId, {}), 'reason');
    expectRefused(await reverse(payer.apiKey, eventId, { reason: '' }), 'reason');
    expectRefused(await reverse(payer.apiKey, eventId, { reason: ' \n\t ' }), 'reason');
    expectRefused(await reverse(payer.apiKey, eventId, { reason: 'x'.repeat(501) }), 'reason');
    expectRefused(await reverse(payer.apiKey, eventId, { reason: 'crash\u0000' }), 'reason');
    expectRefused(await reverse(payer.apiKey, eventId, { reason: 'crash\u001b[31m' }), 'reason');
    expectRefused(await reverse(payer.apiKey, eventId, { reason: 'crash\ud800' }), 'reason');
    expectRefused(await reverse(payer.apiKey, eventId, { reason: 42 }), 'reason');
    expectRefused(await reverse(payer.apiKey, eventId, { reason: 'ok', credits: 5 }), 'credits');
    expectRefused(await reverse(payer.apiKey, eventId, ['the agent crashed']), 'body');
    const notJson = await api.raw<ErrorBody>('POST', `/v1/usage/${eventId}/reversal`, {
      key: payer.apiKey,
      raw: '{"reason":',
    });
    expect(notJson.status).toBe(400);
    expect(await transferCount()).toBe(before);
    expect(await available(payer.apiKey)).toBe(80);
    expect(await reversalsInLedger(payer.id, eventId)).toEqual([]);

    // Lines and tabs are a reason's own; 500 characters are allowed.
    expect(
      (await reverse(payer.apiKey, eventId, { reason: `line 1\n\tline 2${'.'.repeat(486)}` })).status,
    ).toBe(201);
  });

  test('when the event id has control characters or is too long, then 400 naming eventId and nothing moves', async () => {
    const payer = await fundedUser(100);
    await charged(payer.apiKey, 1);
    const before = await transferCount();
    for (const raw of ['%00', 'evt%00x', 'evt%01', 'evt%7F', '%0A', 'x'.repeat(201), '%20%20']) {
      const res = await api.post<ErrorBody>(`/v1/usage/${raw}/reversal`, { reason: 'crash' }, payer.apiKey);
      expectRefused(res, 'eventId');
    }
    expect(await transferCount()).toBe(before);
    expect(await available(payer.apiKey)).toBe(80);
  });

  test('when the Idempotency-Key header is malformed, then 400 naming it', async () => {
    const payer = await fundedUser(100);
    const { eventId } = await charged(payer.apiKey, 1);
    const res = await api.post<ErrorBody>(
      `/v1/usage/${eventId}/reversal`,
      { reason: 'crash' },
      payer.apiKey,
      {
        'idempotency-key': 'has space',
      },
    );
    expectRefused(res, 'Idempotency-Key');
    expect(await available(payer.apiKey)).toBe(80);
  });
});

describe('the reversal window', () => {
  let short: { url: string; close(): Promise<void> };
  let shortApi: Api;
  const WINDOW_SECONDS = 2;

  beforeAll(async () => {
    const useCases = app.root.useCasesWith({ usageReversals: { windowSeconds: WINDOW_SECONDS } });
    const deps = app.root.apiDeps({ adminApiKey: ADMIN_KEY, log: () => {} });
    short = await listen(createApp({ ...deps, useCases }), 0, '127.0.0.1');
    shortApi = http(short.url);
  });
  afterAll(() => short.close());

  test('the product’s window is 7 days', () => {
    expect(USAGE_REVERSAL_WINDOW_SECONDS).toBe(7 * 86_400);
    expect(describeWindow(USAGE_REVERSAL_WINDOW_SECONDS)).toBe('7 days');
    expect(describeWindow(3600)).toBe('1 hour');
    expect(describeWindow(90)).toBe('90 seconds');
  });

  test('when the charge is older than the window, then 409 naming the limit, and nothing moves', async () => {
    const payer = await fundedUser(100);
    const { eventId } = await charged(payer.apiKey, 1, undefined, shortApi);
    await sleep(WINDOW_SECONDS * 1000 + 200);
    const before = await transferCount();
    const res = await reverse(payer.apiKey, eventId, undefined, shortApi);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
    expect(res.body.error.message).toMatch(/within 2 seconds/);
    expect(await transferCount()).toBe(before);
    expect(await available(payer.apiKey)).toBe(80);
    // The 7-day app still takes it back: the window is a setting.
    expect((await reverse(payer.apiKey, eventId)).status).toBe(201);
  });

  test('when a reversal made in the window is asked again after it, then the first reversal answers', async () => {
    const payer = await fundedUser(100);
    const { eventId } = await charged(payer.apiKey, 1, undefined, shortApi);
    const first = await reverse(payer.apiKey, eventId, undefined, shortApi);
    expect(first.status).toBe(201);
    await sleep(WINDOW_SECONDS * 1000 + 200);
    const again = await reverse(payer.apiKey, eventId, undefined, shortApi);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, replayed: true });
  });
});

describe('what the user sees afterwards', () => {
  test('when a charge is reversed, then the usage summary nets it by feature and day and counts the reversal', async () => {
    const payer = await fundedUser(1000);
    const kept = await charged(payer.apiKey, 2);
    const failed = await charged(payer.apiKey, 3);
    const chat = await api.post<{ charged: number }>(
      '/v1/usage',
      { feature: 'conversation', eventId: `evt-${randomUUID()}` },
      payer.apiKey,
    );
    expect((await reverse(payer.apiKey, failed.eventId)).status).toBe(201);

    const day = new Date().toISOString().slice(0, 10);
    const res = await api.get<Record<string, unknown>>(
      `/v1/usage/summary?from=${day}&to=${day}`,
      payer.apiKey,
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      from: day,
      to: day,
      totalCredits: kept.charged + chat.body.charged,
      reversedCredits: failed.charged,
      reversals: 1,
      byFeature: [
        { feature: 'conversation', credits: chat.body.charged, events: 1, reversedCredits: 0, reversals: 0 },
        {
          feature: 'upskilling',
          credits: kept.charged,
          events: 2,
          reversedCredits: failed.charged,
          reversals: 1,
        },
      ],
      byDay: [
        {
          day,
          credits: kept.charged + chat.body.charged,
          byFeature: { conversation: chat.body.charged, upskilling: kept.charged },
          reversedCredits: failed.charged,
        },
      ],
    });
  });

  test('when the creator’s share is taken back, then it is not the creator’s usage', async () => {
    const creator = await fundedUser(0);
    const payer = await fundedUser(1000);
    const agentId = await publishedAgent(creator.id);
    const { eventId } = await charged(payer.apiKey, 2, agentId);
    expect((await reverse(payer.apiKey, eventId)).status).toBe(201);
    const summary = await api.get<{ totalCredits: number; byFeature: unknown[] }>(
      '/v1/usage/summary',
      creator.apiKey,
    );
    expect(summary.body).toMatchObject({ totalCredits: 0, byFeature: [] });
  });

  test('when a charge is reversed, then the transactions list shows it as a usage_reversal credit, and the creator’s as a debit', async () => {
    const creator = await fundedUser(0);
    const payer = await fundedUser(1000);
    const agentId = await publishedAgent(creator.id);
    const { eventId, charged: cost } = await charged(payer.apiKey, 2, agentId);
    expect((await reverse(payer.apiKey, eventId)).status).toBe(201);
    type Page = { data: { amount: number; kind: string; bucket: string }[] };
    const mine = await api.get<Page>('/v1/transactions?limit=2', payer.apiKey);
    expect(mine.body.data.map((t) => [t.kind, t.amount])).toEqual([
      ['usage_reversal', cost],
      ['usage:upskilling', -cost],
    ]);
    const theirs = await api.get<Page>('/v1/transactions?limit=2', creator.apiKey);
    expect(theirs.body.data.map((t) => [t.kind, t.amount, t.bucket])).toEqual([
      ['usage_reversal', -shareOf(cost), 'earned'],
      ['creator_share', shareOf(cost), 'earned'],
    ]);
  });
});

describe('a paused project', () => {
  let worker: TestWorker;

  beforeAll(async () => {
    worker = await startTestWorker(app, { taskMs: 50, usageBp: 10_000 });
  });
  afterAll(() => worker.stop());

  test('when a reversal gives the credits it needs back, then it resumes on the top-up signal', async () => {
    const p = projectsApi(app);
    const user = await fundedUser(30);
    const { eventId } = await charged(user.apiKey, 1); // 20 credits: 10 left, a small task needs 25
    const project = await p.start(user.apiKey, { name: 'after a failed action', tasks: tasks(1, 'small') });
    await p.until(user.apiKey, project.id, 'paused', (x) => x.status === 'paused');
    expect((await reverse(user.apiKey, eventId)).status).toBe(201);
    const done = await p.until(user.apiKey, project.id, 'completed', (x) => x.status === 'completed', 20_000);
    expect(done).toMatchObject({ tasksCompleted: 1, creditsSpent: 25 });
    expect(await available(user.apiKey)).toBe(5);
  });
});

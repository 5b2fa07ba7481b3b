import { planFromPrompt, type RateCardBody } from '../../domain';
import { availableOf, type ErrorResponse, estimate, grant, referencePrice } from '../metering/support';
import { http, signUp, startTestApp, type TestApp } from '../support/app';

let app: TestApp;
let api: ReturnType<typeof http>;
let card: RateCardBody & { version: number };
let key: string;

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
  card = (await api.get<RateCardBody & { version: number }>('/v1/rate-card')).body;
  key = (await signUp(api)).apiKey;
});
afterAll(() => app.close());

const sum = (lines: { credits: number }[]) => lines.reduce((s, l) => s + l.credits, 0);

describe('POST /v1/estimates with a project body', () => {
  test('when tasks are given, then each is priced by its size (medium by default) and planning is free', async () => {
    const res = await estimate(api, key, {
      name: 'Shop',
      tasks: [{ title: 'Catalog', size: 'small' }, { title: 'Cart' }, { title: 'Payments', size: 'large' }],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      kind: 'project',
      credits: card.projectTask.small + card.projectTask.medium + card.projectTask.large,
      rateCardVersion: card.version,
      breakdown: [
        { item: 'task 1: Catalog (small)', credits: card.projectTask.small },
        { item: 'task 2: Cart (medium)', credits: card.projectTask.medium },
        { item: 'task 3: Payments (large)', credits: card.projectTask.large },
      ],
    });
  });

  test('when only a prompt is given, then planning is included and the planner’s tasks are priced', async () => {
    const prompt =
      'Design the database schema for orders.\nWrite the REST endpoints for creating, listing, cancelling and refunding orders, with validation and tests for every error case the API can return.\nShip it.';
    const plan = planFromPrompt(prompt);
    expect(plan.map((t) => t.size)).toEqual(['small', 'medium', 'small']);
    const res = await estimate(api, key, { prompt });
    expect(res.status).toBe(200);
    expect(res.body.breakdown[0]).toEqual({
      item: 'project planning',
      credits: card.projectPlanning.credits,
    });
    expect(res.body.breakdown).toHaveLength(1 + plan.length);
    expect(res.body.credits).toBe(
      card.projectPlanning.credits + plan.reduce((s, t) => s + card.projectTask[t.size], 0),
    );
    expect(sum(res.body.breakdown)).toBe(res.body.credits);
  });

  test('when a project gives both tasks and a prompt, then the tasks are priced and planning is not', async () => {
    const res = await estimate(api, key, {
      prompt: 'Do it all.',
      tasks: [{ title: 'One thing', size: 'small' }],
    });
    expect(res.body.credits).toBe(card.projectTask.small);
  });

  test('when the same project is estimated twice, then the answers are identical', async () => {
    const body = { prompt: 'Build a blog. Add comments. Add an RSS feed with full-text entries and images.' };
    expect((await estimate(api, key, body)).body).toEqual((await estimate(api, key, body)).body);
  });

  test.each<[string, string, Record<string, unknown>]>([
    ['neither tasks nor prompt', 'tasks', { name: 'Empty' }],
    ['tasks empty', 'tasks', { tasks: [] }],
    ['tasks not a list', 'tasks', { tasks: 'a, b' }],
    ['a task without a title', 'tasks.0.title', { tasks: [{ size: 'small' }] }],
    ['a task title a number', 'tasks.1.title', { tasks: [{ title: 'a' }, { title: 5 }] }],
    ['a task size unknown', 'tasks.0.size', { tasks: [{ title: 'a', size: 'huge' }] }],
    ['a task with an unknown field', 'tasks.0.cost', { tasks: [{ title: 'a', cost: 1 }] }],
    ['too many tasks', 'tasks', { tasks: Array.from({ length: 1001 }, (_, i) => ({ title: `t${i}` })) }],
    ['prompt empty', 'prompt', { prompt: '' }],
    ['prompt a number', 'prompt', { prompt: 42 }],
    ['prompt too long', 'prompt', { prompt: 'x'.repeat(10_001) }],
    ['name a number', 'name', { name: 7, prompt: 'p' }],
    ['an unknown field', 'budget', { prompt: 'p', budget: 100 }],
  ])('when %s, then 400 names %s', async (_name, field, body) => {
    const res = await estimate(api, key, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.message).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')}: `));
  });
});

describe('POST /v1/estimates with a usage body', () => {
  test('when a usage event is estimated, then the price is the rate card’s, with the version it came from', async () => {
    const body = { feature: 'rag' as const, inputTokens: 12_345, model: 'advanced' };
    const res = await estimate(api, key, body);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      kind: 'usage',
      credits: referencePrice(card, body),
      rateCardVersion: card.version,
    });
    expect(sum(res.body.breakdown)).toBe(res.body.credits);
  });

  test.each<[string, string, Record<string, unknown>]>([
    ['an eventId (estimates are not events)', 'eventId', { feature: 'conversation', eventId: 'e1' }],
    ['feature unknown', 'feature', { feature: 'video' }],
    ['model unknown', 'model', { feature: 'conversation', model: 'gpt-9' }],
    ['tokens negative', 'outputTokens', { feature: 'conversation', outputTokens: -1 }],
    ['tokens huge', 'inputTokens', { feature: 'conversation', inputTokens: 10_000_001 }],
    ['training units missing', 'trainingUnits', { feature: 'upskilling' }],
    ['training units zero', 'trainingUnits', { feature: 'upskilling', trainingUnits: 0 }],
  ])('when the body has %s, then 400 names %s', async (_name, field, body) => {
    const res = await estimate(api, key, body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(new RegExp(`^${field}: `));
  });

  test('when the body is not an object, then 400, never a 500', async () => {
    for (const raw of ['[]', '"conversation"', '{']) {
      const res = await api.raw<ErrorResponse>('POST', '/v1/estimates', { key, raw });
      expect(res.status).toBe(400);
    }
  });
});

describe('POST /v1/estimates: access and effects', () => {
  test('when no API key is sent, then 401', async () => {
    expect((await api.post('/v1/estimates', { feature: 'conversation' })).status).toBe(401);
  });

  test('when a user with no credits asks, then they still get the price, and nothing moves for anyone', async () => {
    const broke = await signUp(api);
    expect((await estimate(api, broke.apiKey, { feature: 'upskilling', trainingUnits: 10 })).status).toBe(
      200,
    );
    const rich = await signUp(api);
    await grant(api, rich.id, 1000);
    await estimate(api, rich.apiKey, { prompt: 'A large project. With many steps. And more.' });
    expect(await availableOf(api, broke.apiKey)).toBe(0);
    expect(await availableOf(api, rich.apiKey)).toBe(1000);
  });
});

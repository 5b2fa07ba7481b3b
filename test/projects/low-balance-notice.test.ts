import { startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { startTestWorker, type TestWorker } from '../support/worker';
import { projectsApi, tasks } from './support';

/**
 * Project debits (the planning charge and each task's settlement) go through the same balance
 * events as a usage charge: the one that takes the balance below the user's threshold records
 * exactly one low-balance notice, keyed by that debit.
 */
let app: TestApp;
let worker: TestWorker;
let p: ReturnType<typeof projectsApi>;

beforeAll(async () => {
  app = await startTestApp({ projects: { recheckSeconds: 600, tasksPerRun: 50 } });
  worker = await startTestWorker(app, { taskMs: 0, usageBp: 10_000 });
  p = projectsApi(app);
});
afterAll(async () => {
  await worker.stop();
  await app.close();
});

/** A user funded with `credits` whose low-balance threshold is `threshold`. */
async function watchedUser(credits: number, threshold: number) {
  const funded = await fundedUser(app.sql, app.ledger, credits);
  const res = await p.api.raw('PUT', '/v1/settings', {
    key: funded.apiKey,
    json: { lowBalanceThreshold: threshold },
  });
  expect(res.status).toBe(200);
  return funded;
}

async function lowBalanceNotices(userId: string) {
  return app.sql<{ dedupe_key: string; body: string }[]>`
    SELECT dedupe_key, body FROM outbox WHERE user_id = ${userId} AND kind = 'low_balance' ORDER BY id`;
}

test("when a project's task settlement takes the balance below the threshold, then exactly one notice is recorded, keyed by that settlement", async () => {
  // 100 credits, threshold 60, three small tasks of 25: the second settlement (75 → 50) crosses.
  const { user, apiKey } = await watchedUser(100, 60);
  const project = await p.start(apiKey, { name: 'crosses once', tasks: tasks(3, 'small') });
  await p.until(apiKey, project.id, 'completed', (x) => x.status === 'completed');
  const notices = await lowBalanceNotices(user.id);
  expect(notices).toHaveLength(1);
  expect(notices[0]!.dedupe_key).toBe(`low-balance:project:${project.id}:task:1:settle`);
  expect(notices[0]!.body).toContain('now 50 credits');
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 25, held: 0 });
});

test('when the planning charge takes the balance below the threshold, then it records the one notice', async () => {
  // 150 credits, threshold 120: planning (50) crosses (150 → 100); the tasks after it stay below.
  const { user, apiKey } = await watchedUser(150, 120);
  const project = await p.start(apiKey, { name: 'planned', prompt: 'Write a haiku' });
  await p.until(apiKey, project.id, 'finished', (x) => ['completed', 'paused'].includes(x.status));
  const notices = await lowBalanceNotices(user.id);
  expect(notices.map((n) => n.dedupe_key)).toEqual([`low-balance:project:${project.id}:planning`]);
});

test('when no settlement crosses the threshold, then no notice is recorded', async () => {
  // 100 credits, threshold 10: two small tasks leave 50.
  const { user, apiKey } = await watchedUser(100, 10);
  const project = await p.start(apiKey, { name: 'stays above', tasks: tasks(2, 'small') });
  await p.until(apiKey, project.id, 'completed', (x) => x.status === 'completed');
  expect(await lowBalanceNotices(user.id)).toEqual([]);
});

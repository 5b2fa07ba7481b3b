import { startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { startTestWorker, type TestWorker } from '../support/worker';
import { projectsApi, tasks } from './support';

/** The re-check timer is 10 minutes here: whatever resumes a project in these tests is a signal. */
let app: TestApp;
let worker: TestWorker;
let p: ReturnType<typeof projectsApi>;

beforeAll(async () => {
  app = await startTestApp({ projects: { recheckSeconds: 600, tasksPerRun: 50 } });
  worker = await startTestWorker(app, { taskMs: 2000, usageBp: 10_000 });
  p = projectsApi(app);
});
afterAll(async () => {
  await worker.stop();
  await app.close();
});

test('when an operator grants credits, then the paused project resumes on the top-up signal', async () => {
  const { user, apiKey } = await fundedUser(app.sql, app.ledger, 25);
  const project = await p.start(apiKey, { name: 'grant', tasks: tasks(2, 'small') });
  await p.until(apiKey, project.id, 'paused', (x) => x.status === 'paused');
  await p.grant(user.id, 25);
  const done = await p.until(apiKey, project.id, 'completed', (x) => x.status === 'completed', 20_000);
  expect(done).toMatchObject({ tasksCompleted: 2, creditsSpent: 50 });
});

test("when another project's hold is released by a cancel, then the paused project resumes on that top-up", async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 75);
  const runner = await p.start(apiKey, {
    name: 'holds the credits',
    tasks: [{ title: 'long', size: 'medium' }],
  });
  await p.until(apiKey, runner.id, 'running its task', (x) => x.creditsReserved === 75);
  const waiting = await p.start(apiKey, { name: 'waits', tasks: tasks(1, 'small') });
  await p.until(apiKey, waiting.id, 'paused', (x) => x.status === 'paused');
  expect((await p.api.post(`/v1/projects/${runner.id}/cancel`, {}, apiKey)).status).toBe(202);
  const done = await p.until(apiKey, waiting.id, 'completed', (x) => x.status === 'completed', 20_000);
  expect(done).toMatchObject({ tasksCompleted: 1, creditsSpent: 25 });
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 50, held: 0 });
});

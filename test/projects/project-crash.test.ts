import { signUp, startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { waitFor } from '../support/wait';
import { startTestWorker, type TestWorker } from '../support/worker';
import { startWorkerProcess } from '../support/worker-process';
import { projectsApi, projectTaskTransfers, tasks } from './support';

/** Slow tasks (1.5 s) so a test can act while one is running. */
let app: TestApp;
let worker: TestWorker | null = null;
let p: ReturnType<typeof projectsApi>;

beforeAll(async () => {
  app = await startTestApp({ projects: { recheckSeconds: 2, tasksPerRun: 50 } });
  p = projectsApi(app);
});
afterAll(async () => {
  await worker?.stop();
  await app.close();
});

async function runningTask(projectId: string): Promise<number> {
  return waitFor('a running task', async () => {
    const [row] = await app.sql<{ position: number }[]>`
      SELECT position FROM project_tasks WHERE project_id = ${projectId} AND status = 'running'`;
    return row ? row.position + 1 : null;
  });
}

test('when the worker process is killed during a task and restarted, then that task is charged once', async () => {
  const doomed = await startWorkerProcess(app, { EXECUTOR_TASK_MS: '1500' });
  const { user, apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const project = await p.start(apiKey, { name: 'crash', tasks: tasks(3, 'medium') });
  const running = await runningTask(project.id);
  await doomed.kill(); // mid-task: the hold is open, the task not settled
  expect((await p.get(apiKey, project.id)).tasksCompleted).toBeLessThan(3);
  worker = await startTestWorker(app, { taskMs: 1500, usageBp: 10_000 });
  const done = await p.until(apiKey, project.id, 'completed', (x) => x.status === 'completed', 60_000);
  expect(running).toBeGreaterThanOrEqual(1);
  expect(done).toMatchObject({ tasksCompleted: 3, creditsSpent: 225, creditsReserved: 0 });
  expect(await projectTaskTransfers(app, user.id)).toHaveLength(3); // one charge per task, none twice
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 775, held: 0 });
}, 90_000);

test('when a project is cancelled while a task runs, then the open hold is voided and completed tasks stay', async () => {
  worker ??= await startTestWorker(app, { taskMs: 1500, usageBp: 10_000 });
  const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const project = await p.start(apiKey, { name: 'cancel running', tasks: tasks(4, 'medium') });
  await p.until(apiKey, project.id, 'one task done', (x) => x.tasksCompleted === 1);
  await runningTask(project.id);
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ held: 75 });
  expect((await p.api.post(`/v1/projects/${project.id}/cancel`, {}, apiKey)).status).toBe(202);
  const done = await p.until(apiKey, project.id, 'cancelled', (x) => x.status === 'cancelled');
  expect(done).toMatchObject({ tasksCompleted: 1, creditsSpent: 75, creditsReserved: 0 });
  expect(done.tasks!.map((t) => t.status)).toEqual(['completed', 'cancelled', 'pending', 'pending']);
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 925, held: 0 });
});

test('when project routes get bad input or another user, then 4xx and nothing starts', async () => {
  const user = await signUp(p.api);
  const other = await signUp(p.api);
  for (const body of [
    {},
    { name: '' },
    { name: 'x' },
    { name: 'x', tasks: [] },
    { name: 'x', tasks: [{ title: 'a', size: 'huge' }] },
    { name: 'x', tasks: [{ title: 7 }] },
    { name: 'x', prompt: 'p', extra: 1 },
    { name: 'x', tasks: Array.from({ length: 1001 }, () => ({ title: 't' })) },
  ]) {
    const res = await p.api.post<{ error: { code: string; message: string } }>(
      '/v1/projects',
      body,
      user.apiKey,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
  }
  expect((await p.api.get<{ data: unknown[] }>('/v1/projects', user.apiKey)).body.data).toHaveLength(0);
  const { apiKey } = await fundedUser(app.sql, app.ledger, 0);
  const mine = await p.start(apiKey, { name: 'mine', tasks: tasks(1) });
  expect((await p.api.get(`/v1/projects/${mine.id}`, other.apiKey)).status).toBe(404);
  expect((await p.api.post(`/v1/projects/${mine.id}/cancel`, {}, other.apiKey)).status).toBe(404);
  expect((await p.api.get('/v1/projects/nope', apiKey)).status).toBe(400);
  await p.api.post(`/v1/projects/${mine.id}/cancel`, {}, apiKey);
});

test('when POST /v1/projects is retried with its Idempotency-Key, then the same project; another body, 409', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 0);
  const headers = { 'idempotency-key': 'project-once-1' };
  const body = { name: 'once', tasks: tasks(1) };
  const first = await p.api.post<{ id: string }>('/v1/projects', body, apiKey, headers);
  const again = await p.api.post<{ id: string }>('/v1/projects', body, apiKey, headers);
  const other = await p.api.post('/v1/projects', { ...body, name: 'twice' }, apiKey, headers);
  expect([first.status, again.status, other.status]).toEqual([201, 200, 409]);
  expect(again.body.id).toBe(first.body.id);
  expect(other.body).toMatchObject({ error: { code: 'idempotency_conflict' } });
  expect((await p.api.get<{ data: unknown[] }>('/v1/projects', apiKey)).body.data).toHaveLength(1);
  await p.api.post(`/v1/projects/${first.body.id}/cancel`, {}, apiKey);
});

import { simulatedExecutor } from '../../activities/executor';
import { startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { projectsApi, tasks } from './support';

/**
 * A task's reserve is a local activity: a worker can commit its hold and stop before the workflow
 * records the result. The replay elsewhere may then end the project (a cancel that arrived
 * meanwhile) without asking for that task again. No worker runs here: the test plays both sides
 * through the activities themselves, as the two workers would have.
 */
let app: TestApp;
let p: ReturnType<typeof projectsApi>;

beforeAll(async () => {
  app = await startTestApp();
  p = projectsApi(app);
});
afterAll(() => app.close());

test('when a project ends with a task hold its workflow never recorded, then ending it voids the hold, once', async () => {
  const { user, apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const project = await p.start(apiKey, { name: 'orphan', tasks: tasks(3, 'medium') });
  const activities = app.root.activities(simulatedExecutor({ taskMs: 0, usageBp: 10_000 }));
  // The reserve that committed on the worker that stopped.
  const reserved = await activities.reserveTask({
    projectId: project.id,
    userId: user.id,
    position: 0,
    estimate: 75,
  });
  expect(reserved.ok).toBe(true);
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 925, held: 75 });

  // The replay ends the project cancelled without reserving task 1 again.
  await activities.setProjectStatus({ projectId: project.id, status: 'cancelled' });
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 1000, held: 0 });
  const holds = await app.sql<{ status: string }[]>`
    SELECT status FROM holds WHERE user_id = ${user.id} AND kind = 'usage:project_task'`;
  expect(holds).toEqual([{ status: 'voided' }]);

  // Asked again (a retried activity): nothing more moves.
  await activities.setProjectStatus({ projectId: project.id, status: 'cancelled' });
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 1000, held: 0 });
});

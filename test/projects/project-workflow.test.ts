import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { projectProgressQuery, workflowIds } from '../../workflows/messages';
import { signUp, startTestApp, type TestApp } from '../support/app';
import { checkout } from '../support/checkout';
import { fundedUser } from '../support/db';
import { waitFor } from '../support/wait';
import { startTestWorker, type TestWorker, workflowBundle } from '../support/worker';
import { type ProjectBody, projectsApi, projectTaskTransfers, tasks } from './support';

let app: TestApp;
let worker: TestWorker;
let p: ReturnType<typeof projectsApi>;

beforeAll(async () => {
  app = await startTestApp({ projects: { recheckSeconds: 2, tasksPerRun: 50 } });
  worker = await startTestWorker(app, { taskMs: 10, usageBp: 10_000 });
  p = projectsApi(app);
});
afterAll(async () => {
  await worker.stop();
  await app.close();
});

async function buyStarter(key: string) {
  const res = await p.api.post<{ id: string; checkoutUrl: string }>(
    '/v1/purchases',
    { packageId: 'starter' },
    key,
  );
  expect(res.status).toBe(201);
  expect((await checkout(res.body.checkoutUrl, 'pay')).status).toBe(303);
  return res.body.id;
}

test('when a project outruns the credits bought, then it pauses at zero and finishes by itself after a second purchase', async () => {
  const user = await signUp(p.api);
  await buyStarter(user.apiKey);
  await waitFor(
    'credits',
    async () => (await p.api.get<{ available: number }>('/v1/balance', user.apiKey)).body.available === 4500,
  );

  const project = await p.start(user.apiKey, { name: 'big', tasks: tasks(30, 'large') }); // 30 × 200 = 6,000
  const paused = await p.until(user.apiKey, project.id, 'paused', (x) => x.status === 'paused');
  expect(paused).toMatchObject({
    tasksCompleted: 22,
    creditsSpent: 4400,
    creditsReserved: 0,
    pausedReason: { code: 'insufficient_credits', needed: 200, available: 100 },
  });
  // Search attributes reach Temporal's visibility store a moment after the progress row.
  const described = await waitFor('ProjectStatus=paused in Temporal', async () => {
    const d = await app.temporal.workflow.getHandle(workflowIds.project(project.id)).describe();
    return d.searchAttributes.ProjectStatus?.[0] === 'paused' ? d : null;
  });
  expect(described.searchAttributes.UserId).toEqual([user.id]);

  await buyStarter(user.apiKey); // the purchase saga signals the top-up
  const done = await p.until(user.apiKey, project.id, 'completed', (x) => x.status === 'completed');
  expect(done).toMatchObject({ tasksCompleted: 30, tasksTotal: 30, creditsSpent: 6000, pausedReason: null });
  expect(await p.api.get('/v1/balance', user.apiKey).then((r) => r.body)).toMatchObject({
    available: 3000,
    held: 0,
  });
  expect(await projectTaskTransfers(app, user.id)).toHaveLength(30);
});

test('when the top-up signal is lost, then the re-check timer resumes the paused project', async () => {
  const { user, apiKey } = await fundedUser(app.sql, app.ledger, 50);
  const project = await p.start(apiKey, { name: 'timer', tasks: tasks(4, 'small') }); // 4 × 25
  await p.until(apiKey, project.id, 'paused', (x) => x.status === 'paused');
  // Credited straight through the ledger: no top-up signal is sent.
  await app.ledger.credit({
    idempotencyKey: `lost-signal:${project.id}`,
    userId: user.id,
    amount: 50,
    from: 'grants',
    kind: 'grant',
  });
  const done = await p.until(apiKey, project.id, 'completed', (x) => x.status === 'completed');
  expect(done).toMatchObject({ tasksCompleted: 4, creditsSpent: 100 });
});

test('when a project is cancelled while paused, then it stops, keeps its completed tasks and holds nothing', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 60);
  const project = await p.start(apiKey, { name: 'cancel paused', tasks: tasks(5, 'small') });
  await p.until(apiKey, project.id, 'paused', (x) => x.status === 'paused');
  expect((await p.api.post(`/v1/projects/${project.id}/cancel`, {}, apiKey)).status).toBe(202);
  const done = await p.until(apiKey, project.id, 'cancelled', (x) => x.status === 'cancelled');
  expect(done).toMatchObject({ tasksCompleted: 2, creditsSpent: 50, creditsReserved: 0 });
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 10, held: 0 });
  expect((await p.api.post(`/v1/projects/${project.id}/cancel`, {}, apiKey)).status).toBe(409);
});

test('when a task fails for good, then the project fails with the reason, its hold is voided and done tasks stay', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const project = await p.start(apiKey, {
    name: 'failing',
    tasks: [{ title: 'fine' }, { title: 'broken [fail]' }, { title: 'never' }],
  });
  const done = await p.until(apiKey, project.id, 'failed', (x) => x.status === 'failed');
  expect(done).toMatchObject({ tasksCompleted: 1, creditsSpent: 75, creditsReserved: 0 });
  expect(done.failureReason).toContain('broken [fail]');
  expect(done.tasks!.map((t) => t.status)).toEqual(['completed', 'failed', 'pending']);
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 925, held: 0 });
});

test('when only a prompt is given, then planning is charged and the planner makes the tasks', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const body = {
    name: 'planned',
    prompt: 'Write the spec. Build it. Test it thoroughly with real users and fix what breaks.',
  };
  const estimate = await p.api.post<{ credits: number }>('/v1/estimates', body, apiKey);
  const project = await p.start(apiKey, body);
  const done = await p.until(apiKey, project.id, 'completed', (x) => x.status === 'completed');
  expect(done.tasksTotal).toBe(3);
  expect(done.creditsSpent).toBe(estimate.body.credits); // planning 50 + small 25 + small 25 + medium 75
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({
    available: 1000 - estimate.body.credits,
  });
  // Each charge says what caused it: the planning, then each task by position.
  const causes = await app.sql<{ cause_type: string; cause_id: string; amount: number }[]>`
    SELECT cause_type, cause_id, amount FROM transfers
    WHERE (cause_id = ${project.id} OR cause_id LIKE ${`${project.id}:%`}) AND kind <> 'creator_share' ORDER BY id`;
  expect(causes).toEqual([
    { cause_type: 'project_planning', cause_id: project.id, amount: 50 },
    { cause_type: 'project_task', cause_id: `${project.id}:0`, amount: 25 },
    { cause_type: 'project_task', cause_id: `${project.id}:1`, amount: 25 },
    { cause_type: 'project_task', cause_id: `${project.id}:2`, amount: 75 },
  ]);
});

test('when two projects of one user compete for the last credits, then the balance never goes negative', async () => {
  const { user, apiKey } = await fundedUser(app.sql, app.ledger, 300);
  const [a, b] = await Promise.all([
    p.start(apiKey, { name: 'a', tasks: tasks(3, 'medium') }),
    p.start(apiKey, { name: 'b', tasks: tasks(3, 'medium') }),
  ]);
  const settle = async (id: string) =>
    p.until(apiKey, id, 'paused or done', (x) => x.status === 'paused' || x.status === 'completed');
  const [pa, pb] = await Promise.all([settle(a!.id), settle(b!.id)]);
  const spent = pa.creditsSpent + pb.creditsSpent;
  expect(spent).toBe(300 - (300 % 75)); // 4 tasks fit, 75 each
  expect([pa.status, pb.status]).toContain('paused');
  const balance = (await p.api.get<{ available: number; held: number }>('/v1/balance', apiKey)).body;
  expect(balance).toEqual(expect.objectContaining({ available: 0, held: 0 }));
  expect((await projectTaskTransfers(app, user.id)).reduce((s, t) => s + t.amount, 0)).toBe(300);
  for (const id of [a!.id, b!.id]) await p.api.post(`/v1/projects/${id}/cancel`, {}, apiKey);
});

test('when a project has 500 small tasks, then it continues-as-new along the way and keeps all its progress', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 500 * 25);
  const project = await p.start(apiKey, { name: 'long', tasks: tasks(500, 'small') });
  const done = await p.until(apiKey, project.id, 'completed', (x) => x.status === 'completed', 120_000);
  expect(done).toMatchObject({
    tasksCompleted: 500,
    tasksTotal: 500,
    creditsSpent: 12_500,
    creditsReserved: 0,
  });
  const runs: string[] = [];
  for await (const wf of app.temporal.workflow.list({
    query: `WorkflowId = '${workflowIds.project(project.id)}'`,
  })) {
    runs.push(wf.status.name);
  }
  expect(runs.filter((s) => s === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(9);
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 0, held: 0 });
}, 150_000);

test('when progress is queried in Temporal and read over HTTP and SSE, then all agree', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const project = await p.start(apiKey, { name: 'watched', tasks: tasks(5, 'small') });
  const res = await fetch(`${app.url}/v1/projects/${project.id}/events`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const text = await res.text(); // the stream ends when the project does
  const events = text
    .split('\n\n')
    .filter((e) => e.startsWith('event: progress'))
    .map((e) => JSON.parse(e.split('data: ')[1]!) as ProjectBody);
  expect(events.length).toBeGreaterThanOrEqual(2);
  expect(events.at(-1)).toMatchObject({ status: 'completed', tasksCompleted: 5 });
  const progress = await app.temporal.workflow
    .getHandle(workflowIds.project(project.id))
    .query(projectProgressQuery);
  expect(progress).toEqual({
    status: 'completed',
    tasksCompleted: 5,
    tasksTotal: 5,
    creditsSpent: 125,
    creditsReserved: 0,
    pausedReason: null,
  });
});

test('when a paused-and-resumed project history is replayed, then the workflow code is deterministic', async () => {
  const fixture = path.join(__dirname, '../workflows/histories/project-pause-resume.json');
  const { user, apiKey } = await fundedUser(app.sql, app.ledger, 30);
  const project = await p.start(apiKey, { name: 'replayed', tasks: tasks(2, 'small') });
  await p.until(apiKey, project.id, 'paused', (x) => x.status === 'paused');
  await p.grant(user.id, 40);
  await p.until(apiKey, project.id, 'completed', (x) => x.status === 'completed');
  const workflowId = workflowIds.project(project.id);
  const history = await app.temporal.workflow.getHandle(workflowId).fetchHistory();
  const bundle = { workflowBundle: { codePath: await workflowBundle() } };
  await Worker.runReplayHistory(bundle, history, workflowId);
  if (process.env.UPDATE_HISTORIES) await writeFile(fixture, historyToJSON(history));
  // The committed history, from an earlier version of the code, must replay too.
  const saved = historyFromJSON(JSON.parse(await readFile(fixture, 'utf8')));
  await Worker.runReplayHistory(bundle, saved, 'project-fixture');
});

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowIds } from '../../workflows/messages';
import { signUp, startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { sleep, waitFor } from '../support/wait';
import { startTestWorker, type TestWorker, workflowBundle } from '../support/worker';
import { projectsApi } from './support';

/**
 * Project budgets (DESIGN.md §13) on the real stack: POST /v1/projects {maxCredits}, POST
 * /v1/projects/:id/budget, the view's maxCredits and pausedReason, and the estimate's verdict.
 * Rate card: planning 50, small 25, medium 75, large 200.
 */

let app: TestApp;
let worker: TestWorker;
let p: ReturnType<typeof projectsApi>;

const RECHECK_SECONDS = 1;

beforeAll(async () => {
  app = await startTestApp({ projects: { recheckSeconds: RECHECK_SECONDS, tasksPerRun: 50 } });
  worker = await startTestWorker(app, { taskMs: 10, usageBp: 10_000 });
  p = projectsApi(app);
});
afterAll(async () => {
  await worker.stop();
  await app.close();
});

interface BudgetView {
  id: string;
  status: string;
  maxCredits: number | null;
  tasksCompleted: number;
  tasksTotal: number;
  creditsSpent: number;
  creditsReserved: number;
  pausedReason: {
    code: string;
    message?: string;
    budget?: number;
    spent?: number;
    needed?: number;
    available?: number;
  } | null;
}
interface ErrorBody {
  error: { code: string; message: string };
}

const view = async (key: string, id: string) => (await p.api.get<BudgetView>(`/v1/projects/${id}`, key)).body;
const until = (key: string, id: string, what: string, ok: (v: BudgetView) => boolean) =>
  waitFor(`project ${what}`, async () => {
    const v = await view(key, id);
    return ok(v) ? v : null;
  });
const pausedFor = (code: string) => (v: BudgetView) => v.status === 'paused' && v.pausedReason?.code === code;
const setBudget = (key: string, id: string, body: unknown) =>
  p.api.post<BudgetView & ErrorBody>(`/v1/projects/${id}/budget`, body, key);

/** What the ledger charged the user for this project (planning and tasks; creator shares come out of it). */
async function chargedFor(projectId: string): Promise<number> {
  const [row] = await app.sql<{ total: number }[]>`
    SELECT coalesce(sum(amount), 0)::bigint AS total FROM transfers
    WHERE (cause_id = ${projectId} OR cause_id LIKE ${`${projectId}:%`}) AND kind <> 'creator_share'`;
  return row!.total;
}

async function stopProject(key: string, id: string) {
  await p.api.post(`/v1/projects/${id}/cancel`, {}, key);
  await until(key, id, 'cancelled', (v) => v.status === 'cancelled');
}

const mixed = [
  { title: 'small one', size: 'small' },
  { title: 'medium one', size: 'medium' },
  { title: 'small two', size: 'small' },
  { title: 'large one', size: 'large' },
] as const; // 25 + 75 + 25 + 200 = 325

let budgetHistoryProject: { id: string; key: string } | undefined;

test('when the budget is smaller than the whole project, then the tasks that fit complete and it pauses with budget_exhausted before the first that would cross it; a raise resumes it to the end', async () => {
  const { user, apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const started = await p.api.post<BudgetView>(
    '/v1/projects',
    { name: 'capped', tasks: mixed, maxCredits: 130 },
    apiKey,
  );
  expect(started.status).toBe(201);
  expect(started.body.maxCredits).toBe(130);
  const id = started.body.id;

  const paused = await until(apiKey, id, 'paused for its budget', pausedFor('budget_exhausted'));
  expect(paused).toMatchObject({
    maxCredits: 130,
    tasksCompleted: 3,
    creditsSpent: 125,
    creditsReserved: 0,
    pausedReason: { code: 'budget_exhausted', budget: 130, spent: 125, needed: 200 },
  });
  expect(paused.pausedReason?.message).toContain('budget is 130 credits, 125 are spent, task 4 needs 200');
  expect(await chargedFor(id)).toBe(125);

  // Neither the re-check timer nor a top-up resumes it: only the budget stopped it.
  await p.grant(user.id, 500);
  await sleep(3 * RECHECK_SECONDS * 1000);
  expect(await view(apiKey, id)).toMatchObject({ status: 'paused', tasksCompleted: 3, creditsSpent: 125 });
  expect(await chargedFor(id)).toBeLessThanOrEqual(130);

  const raised = await setBudget(apiKey, id, { maxCredits: 400 });
  expect(raised.status).toBe(200);
  expect(raised.body).toMatchObject({ id, maxCredits: 400, pausedReason: null });
  expect(['running', 'completed']).toContain(raised.body.status);

  const done = await until(apiKey, id, 'completed', (v) => v.status === 'completed');
  expect(done).toMatchObject({ maxCredits: 400, tasksCompleted: 4, creditsSpent: 325, pausedReason: null });
  expect(await chargedFor(id)).toBe(325);
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 1500 - 325, held: 0 });

  // Ended: the budget no longer changes.
  const late = await setBudget(apiKey, id, { maxCredits: 500 });
  expect(late.status).toBe(409);
  expect(late.body.error.code).toBe('conflict');
  budgetHistoryProject = { id, key: apiKey };
});

test('when the budget is lowered below what is spent, then 400 names maxCredits and nothing changes; down to exactly that is taken', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const started = await p.start(apiKey, { name: 'lowered', tasks: [...mixed], maxCredits: 110 });
  const paused = await until(apiKey, started.id, 'paused for its budget', pausedFor('budget_exhausted'));
  expect(paused).toMatchObject({ tasksCompleted: 2, creditsSpent: 100 });

  const refused = await setBudget(apiKey, started.id, { maxCredits: 99 });
  expect(refused.status).toBe(400);
  expect(refused.body.error).toEqual({
    code: 'validation_error',
    message: 'maxCredits: must be at least 100, already spent',
  });
  expect(await view(apiKey, started.id)).toEqual(paused);
  const history = await app.temporal.workflow.getHandle(workflowIds.project(started.id)).fetchHistory();
  expect(history.events?.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);

  const exact = await setBudget(apiKey, started.id, { maxCredits: 100 });
  expect(exact.status).toBe(200);
  expect(exact.body).toMatchObject({
    maxCredits: 100,
    status: 'paused',
    pausedReason: { code: 'budget_exhausted', budget: 100, spent: 100, needed: 25 },
  });
  await stopProject(apiKey, started.id);
  expect(await chargedFor(started.id)).toBe(100);
});

test('when another user asks for a project’s budget, then 404, and the project is untouched', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const other = await signUp(p.api);
  const started = await p.start(apiKey, { name: 'mine', tasks: [...mixed], maxCredits: 110 });
  await until(apiKey, started.id, 'paused for its budget', pausedFor('budget_exhausted'));
  const res = await setBudget(other.apiKey, started.id, { maxCredits: 1000 });
  expect(res.status).toBe(404);
  expect(res.body.error.code).toBe('not_found');
  expect((await setBudget(apiKey, '00000000-0000-4000-8000-000000000000', { maxCredits: 1000 })).status).toBe(
    404,
  );
  expect((await setBudget(apiKey, 'not-a-uuid', { maxCredits: 1000 })).status).toBe(400);
  expect(await view(apiKey, started.id)).toMatchObject({ status: 'paused', maxCredits: 110 });
  await stopProject(apiKey, started.id);
});

test('when the balance runs out before the budget, then the project pauses with insufficient_credits, not budget_exhausted', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 60);
  const started = await p.start(apiKey, {
    name: 'poor',
    tasks: [
      { title: 'a', size: 'small' },
      { title: 'b', size: 'small' },
      { title: 'c', size: 'small' },
    ],
    maxCredits: 1000,
  });
  const paused = await until(apiKey, started.id, 'paused for credits', (v) => v.status === 'paused');
  expect(paused).toMatchObject({
    maxCredits: 1000,
    tasksCompleted: 2,
    creditsSpent: 50,
    pausedReason: { code: 'insufficient_credits', needed: 25, available: 10 },
  });
  expect(paused.pausedReason?.message).toMatch(/^insufficient credits/);
  await stopProject(apiKey, started.id);
});

test('when a project has no budget, then its view says null, and one can be set while it runs', async () => {
  const { apiKey } = await fundedUser(app.sql, app.ledger, 60);
  const started = await p.start(apiKey, { name: 'unbudgeted', tasks: [...mixed] });
  expect(started).toMatchObject({ maxCredits: null });
  await until(apiKey, started.id, 'paused for credits', pausedFor('insufficient_credits'));
  const listed = await p.api.get<{ data: BudgetView[] }>('/v1/projects?limit=100', apiKey);
  expect(listed.body.data.find((x) => x.id === started.id)).toMatchObject({ maxCredits: null });

  const set = await setBudget(apiKey, started.id, { maxCredits: 30 });
  expect(set.status).toBe(200);
  // Spent 25; the medium task (75) no longer fits the budget: the budget is now what stops it.
  const paused = await until(apiKey, started.id, 'paused for its budget', pausedFor('budget_exhausted'));
  expect(paused).toMatchObject({ maxCredits: 30, pausedReason: { budget: 30, spent: 25, needed: 75 } });
  await stopProject(apiKey, started.id);
});

describe('bad budgets', () => {
  test.each<[string, unknown]>([
    ['zero', 0],
    ['a fraction', 1.5],
    ['a string', '100'],
    ['negative', -1],
    ['above 1,000,000,000', 1_000_000_001],
    ['null', null],
  ])(
    'when maxCredits is %s, then POST /v1/projects and POST /v1/projects/:id/budget answer 400 naming it and nothing changes',
    async (_name, maxCredits) => {
      const { user, apiKey } = await fundedUser(app.sql, app.ledger, 60);
      const res = await p.api.post<ErrorBody>(
        '/v1/projects',
        { name: 'bad budget', tasks: [{ title: 'a' }], maxCredits },
        apiKey,
      );
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
      expect(res.body.error.message).toMatch(/^maxCredits: /);
      const [count] = await app.sql<
        { n: number }[]
      >`SELECT count(*)::int AS n FROM projects WHERE user_id = ${user.id}`;
      expect(count!.n).toBe(0);

      const started = await p.start(apiKey, { name: 'good', tasks: [...mixed], maxCredits: 50 });
      await until(apiKey, started.id, 'paused for its budget', pausedFor('budget_exhausted'));
      const bad = await setBudget(apiKey, started.id, { maxCredits });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/^maxCredits: /);
      expect(await view(apiKey, started.id)).toMatchObject({ maxCredits: 50, status: 'paused' });
      await stopProject(apiKey, started.id);
    },
  );

  test('when the budget body is missing maxCredits or has another field, then 400 names the field', async () => {
    const { apiKey } = await fundedUser(app.sql, app.ledger, 0);
    const started = await p.start(apiKey, { name: 'fields', tasks: [{ title: 'a' }], maxCredits: 100 });
    expect((await setBudget(apiKey, started.id, {})).body.error.message).toMatch(/^maxCredits: /);
    expect((await setBudget(apiKey, started.id, { maxCredits: 100, cap: 1 })).body.error.message).toMatch(
      /^cap: /,
    );
    await stopProject(apiKey, started.id);
  });

  test('when the budget cannot pay even the first step, then POST /v1/projects answers 400 naming maxCredits and creates nothing', async () => {
    const { user, apiKey } = await fundedUser(app.sql, app.ledger, 1000);
    const planning = await p.api.post<ErrorBody>(
      '/v1/projects',
      { name: 'tiny', prompt: 'Plan a thing. Build it.', maxCredits: 49 },
      apiKey,
    );
    expect(planning.status).toBe(400);
    expect(planning.body.error.message).toBe(
      "maxCredits: must be at least 50: this project's first step (planning) costs 50 credits",
    );
    const task = await p.api.post<ErrorBody>(
      '/v1/projects',
      { name: 'tiny', tasks: [{ title: 'big', size: 'large' }], maxCredits: 199 },
      apiKey,
    );
    expect(task.status).toBe(400);
    expect(task.body.error.message).toMatch(/^maxCredits: must be at least 200/);
    const [count] = await app.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM projects WHERE user_id = ${user.id}`;
    expect(count!.n).toBe(0);
  });
});

describe('estimates with a budget', () => {
  interface Estimate {
    credits: number;
    budget?: { maxCredits: number; covers: boolean; shortBy: number; tasksCovered: number };
  }
  const estimate = async (key: string, body: unknown) =>
    p.api.post<Estimate & ErrorBody>('/v1/estimates', body, key);

  test('when a project is estimated with maxCredits, then the answer says whether the budget covers it, by how much it falls short and how many tasks fit', async () => {
    const { apiKey } = await fundedUser(app.sql, app.ledger, 0);
    const short = await estimate(apiKey, { tasks: mixed, maxCredits: 130 });
    expect(short.status).toBe(200);
    expect(short.body).toMatchObject({
      credits: 325,
      budget: { maxCredits: 130, covers: false, shortBy: 195, tasksCovered: 3 },
    });
    expect((await estimate(apiKey, { tasks: mixed, maxCredits: 325 })).body.budget).toEqual({
      maxCredits: 325,
      covers: true,
      shortBy: 0,
      tasksCovered: 4,
    });
    const planned = await estimate(apiKey, { prompt: 'Plan a thing. Build it.', maxCredits: 40 });
    expect(planned.body.budget).toMatchObject({ covers: false, tasksCovered: 0 });
    expect((await estimate(apiKey, { tasks: mixed })).body.budget).toBeUndefined();
  });

  test('when the estimate’s maxCredits is bad, then 400 names it', async () => {
    const { apiKey } = await fundedUser(app.sql, app.ledger, 0);
    for (const maxCredits of [0, 1.5, '100', -1]) {
      const res = await estimate(apiKey, { tasks: mixed, maxCredits });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/^maxCredits: /);
    }
  });
});

test('when a budget-paused-and-raised project history is replayed, then the workflow code is deterministic', async () => {
  const fixture = path.join(__dirname, '../workflows/histories/project-budget-pause-raise.json');
  if (!budgetHistoryProject) throw new Error('the first test records this history');
  const workflowId = workflowIds.project(budgetHistoryProject.id);
  const history = await app.temporal.workflow.getHandle(workflowId).fetchHistory();
  const bundle = { workflowBundle: { codePath: await workflowBundle() } };
  await Worker.runReplayHistory(bundle, history, workflowId);
  if (process.env.UPDATE_HISTORIES) await writeFile(fixture, historyToJSON(history));
  // The committed history, from an earlier version of the code, must replay too.
  const saved = historyFromJSON(JSON.parse(await readFile(fixture, 'utf8')));
  await Worker.runReplayHistory(bundle, saved, 'project-budget-fixture');
});

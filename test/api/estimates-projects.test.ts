import { type EstimateResponse, estimate, grant } from '../metering/support';
import { type ProjectBody, projectsApi } from '../projects/support';
import { signUp, startTestApp, type TestApp } from '../support/app';
import { startTestWorker, type TestWorker } from '../support/worker';

/**
 * A project estimate is a promise about what the project will charge: run the project (tasks
 * use all of their estimate) and compare the estimate with the ledger.
 */
let app: TestApp;
let worker: TestWorker;
let p: ReturnType<typeof projectsApi>;

beforeAll(async () => {
  app = await startTestApp();
  worker = await startTestWorker(app, { taskMs: 10, usageBp: 10_000 });
  p = projectsApi(app);
});
afterAll(async () => {
  await worker.stop();
  await app.close();
});

/** Every usage transfer that took credits from this user, by kind. */
async function chargedByKind(userId: string): Promise<Record<string, number>> {
  const rows = await app.sql<{ kind: string; credits: number }[]>`
    SELECT t.kind, sum(t.amount)::bigint AS credits
    FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
    WHERE a.user_id = ${userId} GROUP BY t.kind`;
  return Object.fromEntries(rows.map((r) => [r.kind, r.credits]));
}

async function runToCompletion(body: Record<string, unknown>) {
  const user = await signUp(p.api);
  await grant(p.api, user.id, 100_000);
  const quote = await estimate(p.api, user.apiKey, body);
  expect(quote.status).toBe(200);
  const started = await p.start(user.apiKey, { name: 'estimated', ...body });
  const done: ProjectBody = await p.until(
    user.apiKey,
    started.id,
    'completed',
    (x) => x.status === 'completed',
  );
  return { user, quote: quote.body as EstimateResponse, done };
}

describe('project estimates against the project run', () => {
  test('when a project with tasks runs to the end, then it charges exactly the estimate, with no planning', async () => {
    const body = {
      tasks: [
        { title: 'schema', size: 'small' },
        { title: 'endpoints' },
        { title: 'frontend', size: 'large' },
      ],
    };
    const { user, quote, done } = await runToCompletion(body);
    expect(quote.breakdown.some((l) => l.item === 'project planning')).toBe(false);
    expect(done).toMatchObject({ tasksCompleted: 3, tasksTotal: 3, creditsSpent: quote.credits });
    expect(await chargedByKind(user.id)).toEqual({ 'usage:project_task': quote.credits });
  });

  test('when a prompt-only project runs to the end, then it charges exactly the estimate, planning included', async () => {
    const body = {
      prompt:
        'Set up the repository. Write the data model for invoices, payments and refunds, with migrations.\nAdd a dashboard.',
    };
    const { user, quote, done } = await runToCompletion(body);
    const planning = quote.breakdown.find((l) => l.item === 'project planning');
    expect(planning).toBeDefined();
    expect(done.tasksTotal).toBe(quote.breakdown.length - 1);
    expect(await chargedByKind(user.id)).toEqual({
      'usage:project_planning': planning!.credits,
      'usage:project_task': quote.credits - planning!.credits,
    });
    expect((await p.api.get<{ available: number }>('/v1/balance', user.apiKey)).body.available).toBe(
      100_000 - quote.credits,
    );
  });
});

import { z } from 'zod';
import type { BudgetIntent, BudgetRecord, ProjectRecord } from '../journal';
import { type FlowContext, sleep, withinLoad } from './context';
import { cancelProject, SMALL_TASK, smallTasks, startProject, waitPaused } from './projects';
import { fundedUser } from './users';

/** Rate card v1: planning a project from a prompt costs 50 credits. */
const PLANNING = 50;
/** Four sentences under 40 characters: the simulated planner makes four small tasks of it (domain/planning.ts). */
const PROMPT = 'Plan the work. Build the thing. Test it well. Ship it.';
const PROMPT_TASKS = 4;

const budgetAnswer = z.object({ id: z.uuid(), maxCredits: z.number().int() });

/**
 * The project's budget raised to `to` (POST /v1/projects/:id/budget), retried while unanswered
 * (the same change again is harmless); recorded with its answer's status.
 */
export async function raiseBudget(
  ctx: FlowContext,
  record: ProjectRecord,
  to: number,
  when: 'paused' | 'running' | 'settle',
): Promise<number> {
  const answer = await ctx.api.call({
    kind: when === 'settle' ? 'project budget (raised at settle)' : 'project budget',
    method: 'POST',
    path: `/v1/projects/${record.projectId}/budget`,
    key: record.user.apiKey,
    body: { maxCredits: to },
  });
  if (answer.status === 200 && budgetAnswer.parse(answer.body).maxCredits !== to)
    ctx.journal.driverErrors.push(
      `budget of ${record.projectId} raised to ${to}, answered ${JSON.stringify(answer.body).slice(0, 200)}`,
    );
  if (record.budget) record.budget.raise = { to, when, status: answer.status };
  return answer.status;
}

/**
 * A project with a budget that stops it before its end (DESIGN.md §13): four small tasks with a
 * budget for one to three of them, or a prompt (planning first) with a budget for planning and
 * none or two tasks. Its owner holds credits for the whole project, so only the budget stops it.
 * Then: raised to the whole cost once it is seen paused with budget_exhausted (it must resume by
 * itself and complete), cancelled while paused so (it must end within the budget), or raised
 * while it runs, racing the pause.
 */
export async function budgetFlow(ctx: FlowContext): Promise<void> {
  const intent = ctx.rng.weighted<BudgetIntent>({
    'budget, raised while paused': 3,
    'budget, cancelled while paused': 1,
    'budget, raised while running': 1,
  });
  const prompted = ctx.rng.chance(0.4);
  const tasks = prompted ? PROMPT_TASKS : 4;
  const total = (prompted ? PLANNING : 0) + tasks * SMALL_TASK;
  const maxCredits = prompted
    ? PLANNING + ctx.rng.pick([0, 2]) * SMALL_TASK
    : ctx.rng.int(1, 3) * SMALL_TASK + ctx.rng.int(0, SMALL_TASK - 1);
  const user = await fundedUser(ctx, total + ctx.rng.int(0, 100));
  if (!user) return;
  const budget: BudgetRecord = { maxCredits, total };
  const record = await startProject(
    ctx,
    { user, intent, tasks, sawPaused: false, toppedUp: false, budget },
    {
      name: `chaos ${intent}`,
      maxCredits,
      ...(prompted ? { prompt: PROMPT } : { tasks: smallTasks(tasks) }),
    },
  );
  if (!record) return;
  if (intent === 'budget, raised while running') {
    await sleep(ctx.rng.int(0, 600));
    await raiseBudget(ctx, record, total, 'running');
    return;
  }
  const paused = await waitPaused(ctx, record, withinLoad(ctx, 20));
  if (paused?.code !== 'budget_exhausted') return; // the settle phase raises it
  // A reason without its numbers is recorded as -1s, which the budget checks report.
  budget.pausedFor = { budget: paused.budget ?? -1, spent: paused.spent ?? -1, needed: paused.needed ?? -1 };
  if (intent === 'budget, raised while paused') {
    await raiseBudget(ctx, record, total, 'paused');
    return;
  }
  await cancelProject(ctx, record);
}

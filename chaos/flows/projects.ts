import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ProjectIntent, ProjectRecord } from '../journal';
import { type FlowContext, sleep } from './context';
import { buy } from './purchases';
import { fundedUser, grant, signUp } from './users';

const project = z.object({ id: z.uuid(), status: z.string() });
/** GET /v1/projects/:id: the pause's reason says which limit stopped the work (the budget's with its numbers). */
const projectView = project.extend({
  pausedReason: z
    .object({
      code: z.string(),
      budget: z.number().int().optional(),
      spent: z.number().int().optional(),
      needed: z.number().int().optional(),
    })
    .nullable(),
});
export type PausedReason = NonNullable<z.infer<typeof projectView>['pausedReason']>;
/** Rate card v1: a small task costs 25 credits. */
export const SMALL_TASK = 25;

export function smallTasks(n: number, failLast = false) {
  return Array.from({ length: n }, (_, i) => ({
    title: failLast && i === n - 1 ? `task ${i + 1} [fail]` : `task ${i + 1}`,
    size: 'small',
  }));
}

/** POST /v1/projects with `body` (its tasks or its prompt, maybe a budget), retried under one key. */
export async function startProject(
  ctx: FlowContext,
  record: Omit<ProjectRecord, 'projectId'>,
  body: Record<string, unknown>,
): Promise<ProjectRecord | null> {
  const key = `chaos-project-${randomUUID()}`;
  const answer = await ctx.api.call({
    kind: 'project',
    method: 'POST',
    path: '/v1/projects',
    key: record.user.apiKey,
    body,
    idempotencyKey: key,
  });
  if (answer.status === 0 || answer.status >= 500) {
    // The project may exist without its workflow (the API died between the two): the client
    // sends the start again under its key, in the settle phase (resendUnansweredProjects).
    ctx.journal.unansweredProjects.push({ record, key, body });
    return null;
  }
  if (answer.status !== 201 && answer.status !== 200) return null;
  const started: ProjectRecord = { ...record, projectId: project.parse(answer.body).id };
  ctx.journal.projects.push(started);
  return started;
}

/**
 * Project starts that never got an answer, sent again under their Idempotency-Key: a project
 * whose row was made but whose workflow was not (the API killed in between) is started now.
 */
export async function resendUnansweredProjects(ctx: FlowContext): Promise<number> {
  const unanswered = ctx.journal.unansweredProjects.splice(0);
  for (const { record, key, body } of unanswered) {
    const answer = await ctx.api.call({
      kind: 'project (re-sent at settle)',
      method: 'POST',
      path: '/v1/projects',
      key: record.user.apiKey,
      body,
      idempotencyKey: key,
    });
    const parsed = project.safeParse(answer.body);
    if ((answer.status === 201 || answer.status === 200) && parsed.success)
      ctx.journal.projects.push({ ...record, projectId: parsed.data.id });
    else if (answer.status === 201 || answer.status === 200)
      ctx.journal.driverErrors.push(`project start re-sent: ${JSON.stringify(answer.body).slice(0, 200)}`);
  }
  return unanswered.length;
}

/** Polls the project until it is paused, up to `seconds`: why it paused, or null if it did not. */
export async function waitPaused(
  ctx: FlowContext,
  record: ProjectRecord,
  seconds: number,
): Promise<PausedReason | null> {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const answer = await ctx.api.once({
      kind: 'project status',
      method: 'GET',
      path: `/v1/projects/${record.projectId}`,
      key: record.user.apiKey,
    });
    if (answer.status === 200) {
      const seen = projectView.parse(answer.body);
      if (seen.status === 'paused' && seen.pausedReason) return seen.pausedReason;
    }
    await sleep(500);
  }
  return null;
}

/**
 * One MultiTask project: run to the end (sometimes with a last task that fails for good),
 * cancelled mid-run, or started without credits so it pauses, then topped up by an operator
 * grant or by a purchase, after which it must resume by itself.
 */
/** Cancels the project as its owner, recording the answer. */
export async function cancelProject(ctx: FlowContext, record: ProjectRecord): Promise<void> {
  const answer = await ctx.api.call({
    kind: 'project cancel',
    method: 'POST',
    path: `/v1/projects/${record.projectId}/cancel`,
    key: record.user.apiKey,
  });
  record.cancelAnswered = answer.status;
}

export async function runProject(ctx: FlowContext, intent: ProjectIntent): Promise<void> {
  const paused = intent.startsWith('pause');
  const n = paused ? 3 : intent === 'cancel' ? 10 : 4;
  const user = paused ? await signUp(ctx) : await fundedUser(ctx, n * SMALL_TASK);
  if (!user) return;
  const failLast = intent === 'complete' && ctx.rng.chance(0.25);
  const record = await startProject(
    ctx,
    { user, intent, tasks: n, sawPaused: false, toppedUp: false },
    { name: `chaos ${intent}`, tasks: smallTasks(n, failLast) },
  );
  if (!record) return;
  if (intent === 'cancel') {
    await sleep(ctx.rng.int(300, 2000));
    await cancelProject(ctx, record);
    return;
  }
  if (!paused) return;
  record.sawPaused = (await waitPaused(ctx, record, 20)) !== null;
  if (!record.sawPaused) return; // the settle phase tops it up
  if (intent === 'pause, top-up by grant') record.toppedUp = await grant(ctx, user.id, n * SMALL_TASK);
  else record.toppedUp = (await buy(ctx, user, 'paid', { topUpFor: record.projectId }))?.paid ?? false;
}

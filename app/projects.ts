import { randomUUID } from 'node:crypto';
import {
  type Client,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { uuidFromSeed } from '../db/ids';
import { requestHash } from '../db/ledger';
import type { Sql } from '../db/pool';
import { findProject, insertProject, saveTaskList } from '../db/projects';
import type { RateCards } from '../db/rate-cards';
import type { User } from '../db/users';
import {
  budgetBelowSpend,
  Conflict,
  firstStepPrice,
  formatCredits,
  NotFound,
  type ProjectStatus,
  priceProject,
  projectTasks,
  type TaskSize,
  taskPrice,
  ValidationError,
} from '../domain';
import {
  cancelProjectSignal,
  PROJECT_BUDGET_REFUSED,
  PROJECT_ENDING,
  setProjectBudgetUpdate,
  workflowIds,
} from '../workflows/messages';
import { startProject as startProjectWorkflow } from '../workflows/starters';
import { assertNamedAgentsExist, assignAgents } from './agents';

export interface ProjectSettings {
  /** A paused project re-checks its balance this often even without a top-up signal. */
  recheckSeconds: number;
  /** Continue-as-new after this many tasks in one run. */
  tasksPerRun: number;
}

export interface ProjectDeps {
  sql: Sql;
  temporal: Client;
  rateCards: RateCards;
  taskQueue: string;
  projects: ProjectSettings;
}

/** A project body as parsed at the edge (api/schemas.ts `projectBody`); hashed for idempotency. */
export type NewProject = {
  name: string;
  tasks?: { title: string; size?: TaskSize | undefined; agentId?: string | undefined }[] | undefined;
  prompt?: string | undefined;
  /** The project's budget (DESIGN.md §13): the most planning and tasks may cost together. */
  maxCredits?: number | undefined;
};

/** A project row as the API shows it, with its owner. */
export type Project = NonNullable<Awaited<ReturnType<typeof findProject>>>;

const FINISHED: ReadonlySet<ProjectStatus> = new Set(['completed', 'cancelled', 'failed']);

/** Completed, cancelled or failed: nothing will change any more. */
export function isFinished(status: ProjectStatus): boolean {
  return FINISHED.has(status);
}

/**
 * Starts a MultiTask project priced with today's rate card (the project keeps that version).
 * The same idempotency key names the same project and workflow, so a retry starts nothing new
 * (`created: false`); the same key with another body is an IdempotencyConflict.
 * The runner's tasks are saved with their agents: the one each names (it must be published), or
 * the planner's choice (app/agents.ts assignAgents). A prompt's tasks get theirs when planned.
 */
export async function startProject(
  deps: ProjectDeps,
  request: { user: Pick<User, 'id'>; body: NewProject; key: string | undefined },
): Promise<{ created: boolean; project: Project; estimate: number }> {
  const { user, body } = request;
  const card = await deps.rateCards.latest();
  const estimate = priceProject(card, body);
  if (body.maxCredits !== undefined) {
    // A budget that cannot pay even the first step could never start anything: say so now,
    // rather than create a project that pauses for its budget before doing any work.
    const first = firstStepPrice(card, body);
    if (body.maxCredits < first.credits) {
      throw new ValidationError(
        'maxCredits',
        `must be at least ${formatCredits(first.credits)}: this project's first step (${first.step}) costs ${formatCredits(first.credits)} credits`,
      );
    }
  }
  const id = request.key ? uuidFromSeed(`project:${user.id}:${request.key}`) : randomUUID();
  if (body.tasks) await assertNamedAgentsExist(deps.sql, body.tasks);
  const priced = body.tasks
    ? projectTasks(body).map((t, i) => ({
        ...t,
        estimate: taskPrice(card, t.size),
        agentId: body.tasks?.[i]?.agentId,
      }))
    : null;
  const { created } = await insertProject(deps.sql, {
    id,
    userId: user.id,
    name: body.name,
    prompt: body.prompt ?? null,
    rateCardVersion: card.version,
    maxCredits: body.maxCredits ?? null,
    requestHash: requestHash('project', body),
  });
  // Saved on a retry too (the save is idempotent): a first attempt that stopped between the
  // project row and its tasks leaves none. The workflow runs the list as stored, so a retry that
  // chose other agents (ratings changed in between) still runs what the first save recorded.
  const tasks = priced ? await saveTaskList(deps.sql, id, await assignAgents(deps.sql, id, priced)) : null;
  await startProjectWorkflow(deps.temporal, deps.taskQueue, {
    projectId: id,
    userId: user.id,
    rateCardVersion: card.version,
    tasks,
    prompt: body.prompt ?? null,
    recheckSeconds: deps.projects.recheckSeconds,
    tasksPerRun: deps.projects.tasksPerRun,
    maxCredits: body.maxCredits,
    planningCredits: priced ? undefined : card.projectPlanning.credits,
  });
  const project = (await findProject(deps.sql, id))!;
  return { created, project, estimate: estimate.credits };
}

/** The user's own project; someone else's is "not found": ids must not leak. */
export async function ownProject(deps: { sql: Sql }, userId: string, id: string): Promise<Project> {
  const project = await findProject(deps.sql, id);
  if (!project || project.userId !== userId) throw new NotFound(`project ${id} not found`);
  return project;
}

/** Asks the user's project to stop; its open reservation is voided by the workflow. */
export async function cancelProject(
  deps: { sql: Sql; temporal: Client },
  userId: string,
  id: string,
): Promise<Project> {
  const project = await ownProject(deps, userId, id);
  if (isFinished(project.status)) throw new Conflict(`project ${project.id} is already ${project.status}`);
  try {
    await deps.temporal.workflow
      .getHandle(workflowIds.project(project.id))
      .signal(cancelProjectSignal, { reason: 'cancelled by the user' });
  } catch (error) {
    if (error instanceof WorkflowNotFoundError)
      throw new Conflict(`project ${project.id} has already finished`);
    throw error;
  }
  return project;
}

/** How long a budget change waits for the project to act on it before answering as things stand. */
const BUDGET_SETTLE_MS = 5_000;

/**
 * Sets the budget of the user's project (POST /v1/projects/:id/budget) through the workflow's
 * update, whose validator is the judge: below what the project has spent (plus the reservation
 * in flight) is a ValidationError naming maxCredits, and nothing changes. The same check is made
 * on the row first, so a plainly too-low budget is refused without asking Temporal. A project
 * paused for its budget resumes when the new one pays its next step.
 */
export async function changeProjectBudget(
  deps: { sql: Sql; temporal: Client },
  request: { userId: string; id: string; maxCredits: number },
): Promise<Project> {
  const project = await ownProject(deps, request.userId, request.id);
  if (isFinished(project.status)) throw new Conflict(`project ${project.id} is already ${project.status}`);
  const below = budgetBelowSpend(request.maxCredits, project.creditsSpent, project.creditsReserved);
  if (below !== null) throw new ValidationError('maxCredits', below);
  const handle = deps.temporal.workflow.getHandle(workflowIds.project(project.id));
  try {
    const update = await handle.startUpdate(setProjectBudgetUpdate, {
      args: [{ maxCredits: request.maxCredits }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    // Bounded: a slow database must not hold the request; the accepted change completes anyway.
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, BUDGET_SETTLE_MS);
    });
    const outcome = update.result();
    outcome.catch(() => {}); // when the wait runs out first, a late failure is not unhandled
    try {
      await Promise.race([outcome, waited]);
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    throw budgetRefusal(error, project.id) ?? error;
  }
  const now = (await findProject(deps.sql, project.id))!;
  // The workflow took the budget; its record may lag only when the wait above ran out.
  return { ...now, maxCredits: request.maxCredits };
}

/** A refused budget change as the domain error the API maps (400 or 409), or null for a fault. */
function budgetRefusal(error: unknown, projectId: string): Error | null {
  if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
    if (error.cause.type === PROJECT_BUDGET_REFUSED)
      return new ValidationError('maxCredits', error.cause.message);
    if (error.cause.type === PROJECT_ENDING) return new Conflict(error.cause.message);
  }
  // The run has ended between the row's read and the update.
  if (error instanceof WorkflowNotFoundError)
    return new Conflict(`project ${projectId} has already finished`);
  return null;
}

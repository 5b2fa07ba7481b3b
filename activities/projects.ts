import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { TopUpNotifier } from '../config/top-up';
import { uuidFromSeed } from '../db/ids';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import {
  addPlanningCost,
  markTaskCompleted,
  markTaskReleased,
  markTaskReserved,
  type PausedReason,
  type PlannedTask,
  type ProjectStatus,
  saveTaskList,
  setProjectStatus,
} from '../db/projects';
import type { RateCards } from '../db/rate-cards';
import { HoldNotPending, InsufficientCredits, taskPrice } from '../domain';
import { type TaskExecutor, TaskFailed, type TaskToRun } from './executor';

export interface ProjectActivityDeps {
  sql: Sql;
  ledger: Ledger;
  rateCards: RateCards;
  executor: TaskExecutor;
  /** Credits released from a hold are a balance increase: the user's other paused projects may go on. */
  announceTopUp: TopUpNotifier;
}

/** How long a task's reservation lives if nothing settles it (a project stuck for a day). */
const HOLD_SECONDS = 24 * 3600;

export type Reservation = { ok: true; holdId: string } | { ok: false; needed: number; available: number };

/** Hold ids are derived from the project and task, so a retried reserve finds the same hold. */
function holdIdFor(projectId: string, position: number): string {
  return uuidFromSeed(`project-hold:${projectId}:${position}`);
}

/**
 * The project workflow's side effects. Every money movement is keyed by project and task, so
 * retries, replays and a restarted worker never charge a task twice; progress rows are updated
 * conditionally for the same reason.
 */
export function createProjectActivities(deps: ProjectActivityDeps) {
  return {
    /** Charges the planning step; false with the amounts when the balance cannot cover it. */
    async chargePlanning(input: {
      projectId: string;
      userId: string;
      rateCardVersion: number;
    }): Promise<Reservation> {
      const card = await deps.rateCards.version(input.rateCardVersion);
      try {
        await deps.ledger.debit({
          idempotencyKey: `project:${input.projectId}:planning`,
          userId: input.userId,
          amount: card.projectPlanning.credits,
          kind: 'usage:project_planning',
          description: `planning of project ${input.projectId}`,
        });
      } catch (error) {
        if (error instanceof InsufficientCredits)
          return { ok: false, needed: error.needed, available: error.available };
        throw error;
      }
      await addPlanningCost(deps.sql, input.projectId, card.projectPlanning.credits);
      return { ok: true, holdId: '' };
    },

    /** The executor's plan, priced with the project's rate card version, saved once. */
    async planTasks(input: {
      projectId: string;
      prompt: string;
      rateCardVersion: number;
    }): Promise<PlannedTask[]> {
      const card = await deps.rateCards.version(input.rateCardVersion);
      const planned = await deps.executor.plan({ projectId: input.projectId, prompt: input.prompt });
      const tasks = planned.map((t) => ({ ...t, estimate: taskPrice(card, t.size) }));
      await saveTaskList(deps.sql, input.projectId, tasks);
      return tasks;
    },

    async saveTasks(input: { projectId: string; tasks: PlannedTask[] }): Promise<void> {
      await saveTaskList(deps.sql, input.projectId, input.tasks);
    },

    async reserveTask(input: {
      projectId: string;
      userId: string;
      position: number;
      estimate: number;
    }): Promise<Reservation> {
      const holdId = holdIdFor(input.projectId, input.position);
      try {
        await deps.ledger.hold({
          idempotencyKey: `project:${input.projectId}:task:${input.position}:hold`,
          holdId,
          userId: input.userId,
          amount: input.estimate,
          kind: 'usage:project_task',
          description: `project ${input.projectId} task ${input.position + 1}`,
          expiresInSeconds: HOLD_SECONDS,
        });
      } catch (error) {
        if (error instanceof InsufficientCredits)
          return { ok: false, needed: error.needed, available: error.available };
        throw error;
      }
      await markTaskReserved(deps.sql, input.projectId, input.position, holdId);
      return { ok: true, holdId };
    },

    /** Runs the task through the executor, heartbeating; cancellation reaches it as an abort. */
    async executeTask(task: TaskToRun): Promise<{ output: string; usedCredits: number }> {
      const context = Context.current();
      try {
        return await deps.executor.run(task, {
          heartbeat: () => context.heartbeat(),
          signal: context.cancellationSignal,
        });
      } catch (error) {
        if (error instanceof TaskFailed) throw ApplicationFailure.nonRetryable(error.message, 'TaskFailed');
        throw error;
      }
    },

    /** Posts the actual cost (never above the reservation), releases the rest, records progress. */
    async settleTask(input: {
      projectId: string;
      userId: string;
      position: number;
      holdId: string;
      estimate: number;
      usedCredits: number;
      output: string;
    }): Promise<{ cost: number; creditsSpent: number }> {
      const cost = Math.min(Math.max(0, input.usedCredits), input.estimate);
      const key = `project:${input.projectId}:task:${input.position}:settle`;
      const { released } =
        cost > 0
          ? await deps.ledger.postHold({ idempotencyKey: key, holdId: input.holdId, amount: cost })
          : await deps.ledger.voidHold({ idempotencyKey: key, holdId: input.holdId });
      const { creditsSpent } = await markTaskCompleted(deps.sql, { ...input, cost });
      if (released > 0) await deps.announceTopUp({ userId: input.userId, reason: 'hold_released' });
      return { cost, creditsSpent };
    },

    /** Voids a task's reservation (cancel, or a task that failed for good). */
    async releaseTask(input: {
      projectId: string;
      userId: string;
      position: number;
      holdId: string;
      status: 'cancelled' | 'failed';
    }): Promise<void> {
      try {
        await deps.ledger.voidHold({
          idempotencyKey: `project:${input.projectId}:task:${input.position}:release`,
          holdId: input.holdId,
        });
      } catch (error) {
        if (!(error instanceof HoldNotPending)) throw error; // already settled or expired: nothing held
      }
      await markTaskReleased(deps.sql, input);
      await deps.announceTopUp({ userId: input.userId, reason: 'hold_released' });
    },

    async setProjectStatus(input: {
      projectId: string;
      status: ProjectStatus;
      pausedReason?: PausedReason | null;
      failureReason?: string | null;
    }): Promise<void> {
      await setProjectStatus(deps.sql, input);
    },
  };
}

export type ProjectActivities = ReturnType<typeof createProjectActivities>;

import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  chargePlanning,
  type ProjectTaskDeps,
  releaseOrphanedTaskHolds,
  releaseTask,
  reserveTask,
  savePlan,
  settleTask,
} from '../app/project-tasks';
import {
  type PausedReason,
  type PlannedTask,
  type ProjectStatus,
  saveTaskList,
  setProjectBudget,
  setProjectStatus,
} from '../db/projects';
import { type TaskExecutor, TaskFailed, type TaskToRun } from './executor';
import type { InputOf } from './use-case-input';

export type { Reservation } from '../app/project-tasks';

export interface ProjectActivityDeps extends ProjectTaskDeps {
  executor: TaskExecutor;
}

/**
 * The project workflow's side effects: thin wrappers over the use cases in app/project-tasks.ts
 * (which key every money movement by project and task), plus the executor, which needs the
 * activity's heartbeat and cancellation.
 */
export function createProjectActivities(deps: ProjectActivityDeps) {
  return {
    /** Charges the planning step; false with the amounts when the balance cannot cover it. */
    chargePlanning: (input: InputOf<typeof chargePlanning>) => chargePlanning(deps, input),

    /** The executor's plan, priced with the project's rate card version, saved once. */
    async planTasks(input: {
      projectId: string;
      prompt: string;
      rateCardVersion: number;
    }): Promise<PlannedTask[]> {
      const planned = await deps.executor.plan({ projectId: input.projectId, prompt: input.prompt });
      return savePlan(deps, { projectId: input.projectId, rateCardVersion: input.rateCardVersion, planned });
    },

    async saveTasks(input: { projectId: string; tasks: PlannedTask[] }): Promise<void> {
      await saveTaskList(deps.sql, input.projectId, input.tasks);
    },

    reserveTask: (input: InputOf<typeof reserveTask>) => reserveTask(deps, input),

    /**
     * Runs the task through the executor, heartbeating; cancellation reaches it as an abort. An
     * executor that completes the task asynchronously throws CompleteAsyncError, passed on as is.
     */
    async executeTask(task: TaskToRun): Promise<{ output: string; usedCredits: number }> {
      const context = Context.current();
      const { info } = context;
      try {
        return await deps.executor.run(task, {
          heartbeat: () => context.heartbeat(),
          signal: context.cancellationSignal,
          attempt: info.attempt,
          taskToken: info.taskToken,
          heartbeatTimeoutMs: info.heartbeatTimeoutMs,
          deadlineMs: info.currentAttemptScheduledTimestampMs + info.startToCloseTimeoutMs,
          lastHeartbeat: info.heartbeatDetails,
        });
      } catch (error) {
        if (error instanceof TaskFailed) throw ApplicationFailure.nonRetryable(error.message, 'TaskFailed');
        throw error;
      }
    },

    /** Posts the actual cost (never above the reservation), releases the rest, records progress. */
    settleTask: (input: InputOf<typeof settleTask>) => settleTask(deps, input),

    /** Voids a task's reservation (cancel, or a task that failed for good). */
    releaseTask: (input: InputOf<typeof releaseTask>) => releaseTask(deps, input),

    async setProjectStatus(input: {
      projectId: string;
      status: ProjectStatus;
      pausedReason?: PausedReason | null;
      failureReason?: string | null;
    }): Promise<void> {
      await setProjectStatus(deps.sql, input);
      if (input.status === 'completed' || input.status === 'cancelled' || input.status === 'failed')
        await releaseOrphanedTaskHolds(deps, { projectId: input.projectId, status: input.status });
    },

    /** Records a budget the workflow accepted (setProjectBudgetUpdate), so the API shows it. */
    async saveProjectBudget(input: { projectId: string; maxCredits: number }): Promise<void> {
      await setProjectBudget(deps.sql, input.projectId, input.maxCredits);
    },
  };
}

export type ProjectActivities = ReturnType<typeof createProjectActivities>;

/**
 * The budget's record, called only from the budget update's handler (a local activity like the
 * other project steps). Kept apart from ProjectLedgerActivities: only runs that receive a budget
 * change call it, so the stubs of runs without one need not provide it.
 */
export type ProjectBudgetActivities = Pick<ProjectActivities, 'saveProjectBudget'>;

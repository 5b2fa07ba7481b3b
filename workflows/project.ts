import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ExecutorActivities, PlannerActivities, ProjectLedgerActivities } from '../activities';
import type { Reservation } from '../activities/projects';
import { executorActivity, localLedgerActivity, plannerActivity } from './activity-options';
import {
  cancelProjectSignal,
  type PausedReason,
  type ProjectInput,
  type ProjectProgress,
  type ProjectStatus,
  type ProjectTask,
  projectProgressQuery,
  topUpSignal,
} from './messages';
import { CreditsSpentKey, ProjectStatusKey } from './search-attributes';

/** Money and progress steps, local (see localLedgerActivity): a task's hot path. */
const ledger = proxyLocalActivities<ProjectLedgerActivities>(localLedgerActivity);
/** The planner may be a slow AI call. */
const planner = proxyActivities<PlannerActivities>(plannerActivity);
/** The executor runs one task, heartbeating; cancelling the project cancels it. */
const executor = proxyActivities<ExecutorActivities>(executorActivity);

/**
 * A MultiTask project (DESIGN.md §5): plan (charged) when only a prompt is given, then for each
 * task reserve → execute → settle → save. When a reservation fails for lack of credits it
 * pauses, waits for a top-up signal or its re-check timer, and resumes at the same task.
 * Cancel at any time voids the open reservation; completed tasks and their costs stay.
 */
export async function projectWorkflow(input: ProjectInput): Promise<ProjectProgress> {
  const carry = input.carry ?? { tasks: input.tasks, nextTask: 0, creditsSpent: 0, tasksCompleted: 0 };
  let tasks: ProjectTask[] | null = carry.tasks;
  const progress: ProjectProgress = {
    status: 'running',
    tasksCompleted: carry.tasksCompleted,
    tasksTotal: tasks?.length ?? 0,
    creditsSpent: carry.creditsSpent,
    creditsReserved: 0,
    pausedReason: null,
  };
  let cancelRequested: string | null = null;
  let toppedUp = false;
  const executing = new CancellationScope();

  setHandler(projectProgressQuery, () => progress);
  setHandler(topUpSignal, () => {
    toppedUp = true;
  });
  setHandler(cancelProjectSignal, ({ reason }) => {
    cancelRequested ??= reason;
    executing.cancel();
  });

  const setStatus = async (
    status: ProjectStatus,
    extra: { pausedReason?: PausedReason; failureReason?: string } = {},
  ) => {
    progress.status = status;
    progress.pausedReason = extra.pausedReason ?? null;
    upsertSearchAttributes([{ key: ProjectStatusKey, value: status }]);
    await ledger.setProjectStatus({ projectId: input.projectId, status, ...extra });
  };

  /** Pays for something with a reservation, pausing as long as the balance cannot cover it. */
  const payOrPause = async (attempt: () => Promise<Reservation>): Promise<Reservation | null> => {
    for (;;) {
      if (cancelRequested !== null) return null;
      // Cleared before trying, not after failing: a top-up that lands while the attempt or the
      // status update is in flight must still wake the wait below.
      toppedUp = false;
      const result = await attempt();
      if (result.ok) {
        if (progress.status === 'paused') await setStatus('running');
        return result;
      }
      await setStatus('paused', {
        pausedReason: { code: 'insufficient_credits', needed: result.needed, available: result.available },
      });
      await condition(() => toppedUp || cancelRequested !== null, `${input.recheckSeconds} seconds`);
    }
  };

  const finish = async (status: 'completed' | 'cancelled' | 'failed', failureReason?: string) => {
    await setStatus(status, failureReason ? { failureReason } : {});
    return progress;
  };

  if (tasks === null) {
    const paid = await payOrPause(() =>
      ledger.chargePlanning({
        projectId: input.projectId,
        userId: input.userId,
        rateCardVersion: input.rateCardVersion,
      }),
    );
    if (!paid) return finish('cancelled');
    tasks = await planner.planTasks({
      projectId: input.projectId,
      prompt: input.prompt ?? '',
      rateCardVersion: input.rateCardVersion,
    });
    progress.tasksTotal = tasks.length;
  }

  let doneThisRun = 0;
  for (let position = carry.nextTask; position < tasks.length; position++) {
    if (cancelRequested !== null) return finish('cancelled');
    if (doneThisRun >= input.tasksPerRun || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof projectWorkflow>({
        ...input,
        carry: {
          tasks,
          nextTask: position,
          creditsSpent: progress.creditsSpent,
          tasksCompleted: progress.tasksCompleted,
        },
      });
    }
    const task = tasks[position]!;
    // The task's agent (named, or chosen by the planner when the task list was saved) is read
    // from its row by reserveTask and settleTask, not passed from here: agents added no command
    // to this workflow, so runs recorded before them replay unchanged (no patch needed).
    const reserved = await payOrPause(() =>
      ledger.reserveTask({
        projectId: input.projectId,
        userId: input.userId,
        position,
        estimate: task.estimate,
      }),
    );
    if (!reserved?.ok) return finish('cancelled');
    progress.creditsReserved = task.estimate;
    const release = (status: 'cancelled' | 'failed') =>
      CancellationScope.nonCancellable(() =>
        ledger.releaseTask({
          projectId: input.projectId,
          userId: input.userId,
          position,
          holdId: reserved.holdId,
          status,
        }),
      );

    let result: { output: string; usedCredits: number };
    try {
      result = await executing.run(() =>
        executor.executeTask({
          projectId: input.projectId,
          position,
          title: task.title,
          size: task.size,
          estimate: task.estimate,
        }),
      );
    } catch (error) {
      progress.creditsReserved = 0;
      if (cancelRequested !== null || isCancellation(error)) {
        await release('cancelled');
        return finish('cancelled');
      }
      await release('failed');
      return finish('failed', failureMessage(error));
    }
    const settled = await ledger.settleTask({
      projectId: input.projectId,
      userId: input.userId,
      position,
      holdId: reserved.holdId,
      estimate: task.estimate,
      usedCredits: result.usedCredits,
      output: result.output,
    });
    progress.creditsReserved = 0;
    progress.creditsSpent = settled.creditsSpent;
    progress.tasksCompleted++;
    doneThisRun++;
    upsertSearchAttributes([{ key: CreditsSpentKey, value: settled.creditsSpent }]);
  }
  return finish('completed');
}

function failureMessage(error: unknown): string {
  if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure)
    return error.cause.message;
  if (error instanceof CancelledFailure) return 'cancelled';
  return error instanceof Error ? error.message : String(error);
}

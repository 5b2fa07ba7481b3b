import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  AutoTopUpWaitActivities,
  ExecutorActivities,
  PlannerActivities,
  ProjectLedgerActivities,
} from '../activities';
import type { ProjectBudgetActivities, Reservation } from '../activities/projects';
import { formatCredits } from '../domain/credits';
import {
  awaitingAutoTopUpPause,
  budgetAllows,
  budgetBelowSpend,
  budgetExhaustedPause,
  insufficientCreditsPause,
  isProjectBudget,
  MAX_PROJECT_BUDGET,
} from '../domain/projects';
import { executorActivity, ledgerActivity, localLedgerActivity, plannerActivity } from './activity-options';
import {
  cancelProjectSignal,
  type PausedReason,
  PROJECT_BUDGET_REFUSED,
  PROJECT_ENDING,
  type ProjectInput,
  type ProjectProgress,
  type ProjectStatus,
  type ProjectTask,
  projectProgressQuery,
  setProjectBudgetUpdate,
  topUpSignal,
} from './messages';
import { CreditsSpentKey, ProjectStatusKey } from './search-attributes';

/** Money and progress steps, local (see localLedgerActivity): a task's hot path. */
const ledger = proxyLocalActivities<ProjectLedgerActivities & ProjectBudgetActivities>(localLedgerActivity);
/**
 * The budget's record, written by the update handler while the main loop may have a local
 * activity of its own in flight: two local activities completing in one workflow task replay in
 * another order than they ran (the update's completion then meets the next task's schedule, a
 * nondeterminism error on any other worker), so this one is an ordinary activity.
 */
const budgetRecords = proxyActivities<ProjectBudgetActivities>(ledgerActivity);

/** Runs recorded while the budget's record was a local activity replay with it (see budgetRecords). */
export const BUDGET_RECORD_ACTIVITY_PATCH = 'budget-record-activity';
/** Whether the user's automatic top-up is being charged, asked before pausing for credits. */
const autoTopUps = proxyLocalActivities<AutoTopUpWaitActivities>(localLedgerActivity);

/**
 * A project short of credits asks whether an automatic top-up is in flight before it reports a
 * shortage (DESIGN.md §13). Runs recorded before it replay without the question.
 */
export const AUTO_TOP_UP_WAIT_PATCH = 'auto-top-up-wait';

/**
 * The budget check before each step. Runs without a budget never reach it, so their histories
 * are unchanged; the patch is for a run started with a budget but recorded, in part, by a worker
 * that predates budgets (a rolling deploy): replaying that part skips the check, as it ran.
 */
export const PROJECT_BUDGET_PATCH = 'project-budget';

function refuse(type: string, message: string): never {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
}
/** The planner may be a slow AI call. */
const planner = proxyActivities<PlannerActivities>(plannerActivity);
/** The executor runs one task, heartbeating; cancelling the project cancels it. */
const executor = proxyActivities<ExecutorActivities>(executorActivity);

/**
 * A MultiTask project (DESIGN.md §5): plan (charged) when only a prompt is given, then for each
 * task reserve → execute → settle → save. When a reservation fails for lack of credits it
 * pauses, waits for a top-up signal or its re-check timer, and resumes at the same task.
 * With a budget (DESIGN.md §13) it starts no step the budget cannot pay in full: it pauses with
 * budget_exhausted instead, until setProjectBudgetUpdate raises the budget. The step in flight
 * always completes. Cancel at any time voids the open reservation; completed tasks and their
 * costs stay.
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
  /** The budget as it stands; only setProjectBudgetUpdate changes it. */
  let budget: number | null = input.maxCredits ?? null;
  /** Accepted budget changes so far: a pause waits for the next one. */
  let budgetChanges = 0;
  /**
   * What the step being paid for claims on the budget, from the moment the check lets it start
   * until it is settled or released: the validator must count a reservation whose activity is
   * still in flight, which creditsReserved does not show yet.
   */
  let claimed = 0;
  /** Budget records, chained so the row ends with the last accepted budget, not the last written. */
  let budgetSaved: Promise<void> = Promise.resolve();
  /** Status writes started and the latest one finished: the budget update waits on them. */
  let statusWritesStarted = 0;
  let statusWritesDone = 0;

  setHandler(projectProgressQuery, () => progress);
  setHandler(topUpSignal, () => {
    toppedUp = true;
  });
  setHandler(cancelProjectSignal, ({ reason }) => {
    cancelRequested ??= reason;
    executing.cancel();
  });

  setHandler(
    setProjectBudgetUpdate,
    async ({ maxCredits }) => {
      const pausedForBudget =
        progress.status === 'paused' && progress.pausedReason?.code === 'budget_exhausted';
      const writesBefore = statusWritesStarted;
      // Set before anything is awaited: the pause below wakes on it, and a second change in the
      // same activation is validated against this one.
      budget = maxCredits;
      budgetChanges++;
      const record = patched(BUDGET_RECORD_ACTIVITY_PATCH) ? budgetRecords : ledger;
      const save = budgetSaved.then(() =>
        record.saveProjectBudget({ projectId: input.projectId, maxCredits }),
      );
      budgetSaved = save.then(
        () => undefined,
        () => undefined,
      );
      await save;
      // The caller reads the project right after: when it was paused for its budget, answer once
      // the project has acted on the new one (resumed, or paused again with the new numbers).
      if (pausedForBudget) await condition(() => statusWritesDone > writesBefore);
      return {
        maxCredits,
        status: progress.status,
        creditsSpent: progress.creditsSpent,
        creditsReserved: progress.creditsReserved,
      };
    },
    {
      // Judged against this run's own spend, in the same activation as any step's start, so no
      // reservation can slip between the check and the change; refusals never reach the history.
      validator: (change) => {
        const maxCredits: unknown = change?.maxCredits;
        if (!isProjectBudget(maxCredits))
          refuse(
            PROJECT_BUDGET_REFUSED,
            `must be a whole number from 1 to ${formatCredits(MAX_PROJECT_BUDGET)}`,
          );
        if (cancelRequested !== null) refuse(PROJECT_ENDING, `project ${input.projectId} is being cancelled`);
        if (
          progress.status === 'completed' ||
          progress.status === 'cancelled' ||
          progress.status === 'failed'
        )
          refuse(PROJECT_ENDING, `project ${input.projectId} is already ${progress.status}`);
        const below = budgetBelowSpend(maxCredits, progress.creditsSpent, claimed);
        if (below !== null) refuse(PROJECT_BUDGET_REFUSED, below);
      },
    },
  );

  const setStatus = async (
    status: ProjectStatus,
    extra: { pausedReason?: PausedReason; failureReason?: string } = {},
  ) => {
    progress.status = status;
    progress.pausedReason = extra.pausedReason ?? null;
    const write = ++statusWritesStarted;
    upsertSearchAttributes([{ key: ProjectStatusKey, value: status }]);
    await ledger.setProjectStatus({ projectId: input.projectId, status, ...extra });
    statusWritesDone = Math.max(statusWritesDone, write);
  };

  /**
   * Finish-or-stop: waits while the budget cannot pay all of the next step (`needed`; unknown
   * for a planning step of a run started before budgets, which is then not checked). No timer:
   * the budget changes only through the update, which cannot be lost, and a top-up does not
   * change it. False when the project is cancelled meanwhile.
   */
  const withinBudget = async (needed: number | undefined, step: string): Promise<boolean> => {
    for (;;) {
      if (cancelRequested !== null) return false;
      if (budget === null || needed === undefined || !patched(PROJECT_BUDGET_PATCH)) return true;
      const spent = progress.creditsSpent + claimed;
      if (budgetAllows(budget, spent, needed)) return true;
      const seen = budgetChanges;
      await setStatus('paused', { pausedReason: budgetExhaustedPause({ budget, spent, needed, step }) });
      await condition(() => budgetChanges !== seen || cancelRequested !== null);
    }
  };

  /**
   * Pays for a step with a reservation: waits while the budget cannot pay `needed`, then while
   * the balance cannot cover it (a top-up, the re-check timer or a budget change wakes it).
   */
  const payOrPause = async (
    needed: number | undefined,
    step: string,
    attempt: () => Promise<Reservation>,
  ): Promise<Reservation | null> => {
    for (;;) {
      if (!(await withinBudget(needed, step))) return null;
      // Cleared before trying, not after failing: a top-up that lands while the attempt or the
      // status update is in flight must still wake the wait below.
      toppedUp = false;
      const budgetSeen = budgetChanges;
      claimed = needed ?? 0;
      const result = await attempt();
      if (result.ok) {
        if (progress.status === 'paused') await setStatus('running');
        return result;
      }
      claimed = 0;
      // The auto top-up workflow signals the user's projects when its charge settles, either way,
      // so the wait below ends then; still short with nothing in flight pauses for credits.
      const topUp = patched(AUTO_TOP_UP_WAIT_PATCH)
        ? await autoTopUps.autoTopUpInFlight({ userId: input.userId })
        : { inFlight: false, purchaseId: null };
      await setStatus('paused', {
        pausedReason: topUp.inFlight
          ? awaitingAutoTopUpPause(topUp.purchaseId, result.needed, result.available)
          : insufficientCreditsPause(result.needed, result.available),
      });
      // A budget change wakes it too: a budget lowered meanwhile pauses it for the budget instead.
      await condition(
        () => toppedUp || cancelRequested !== null || budgetChanges !== budgetSeen,
        `${input.recheckSeconds} seconds`,
      );
    }
  };

  const finish = async (status: 'completed' | 'cancelled' | 'failed', failureReason?: string) => {
    await setStatus(status, failureReason ? { failureReason } : {});
    // A budget change accepted just before the end still records itself and answers its caller.
    await condition(allHandlersFinished);
    return progress;
  };

  if (tasks === null) {
    const paid = await payOrPause(input.planningCredits, 'planning', () =>
      ledger.chargePlanning({
        projectId: input.projectId,
        userId: input.userId,
        rateCardVersion: input.rateCardVersion,
      }),
    );
    if (!paid) return finish('cancelled');
    // Planning is spent now (runs without its price in the input learn it from the first settle).
    progress.creditsSpent += claimed;
    claimed = 0;
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
      // A budget change in flight finishes (and is recorded) in this run, not lost with it.
      await condition(allHandlersFinished);
      await continueAsNew<typeof projectWorkflow>({
        ...input,
        // The budget as it stands now, changes included; a run without one passes its input as before.
        ...(budget === null ? {} : { maxCredits: budget }),
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
    const reserved = await payOrPause(task.estimate, `task ${position + 1}`, () =>
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
      claimed = 0;
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
    claimed = 0;
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

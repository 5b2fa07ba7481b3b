/**
 * The money steps of a running project (DESIGN.md §5), called by the project workflow's
 * activities. Every movement is keyed by project and task, so retries, replays and a restarted
 * worker never charge a task twice; progress rows are updated conditionally for the same reason.
 * Each ledger write is followed by its balance event: planning and settled tasks are debits (a
 * crossing records the low-balance notice), released reservations are top-ups.
 */
import { uuidFromSeed } from '../db/ids';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import {
  addPlanningCost,
  markTaskCompleted,
  markTaskReleased,
  markTaskReserved,
  type PlannedTask,
  saveTaskList,
} from '../db/projects';
import type { RateCards } from '../db/rate-cards';
import { HoldNotPending, InsufficientCredits, type TaskSize, taskPrice } from '../domain';
import type { BalanceEvents } from './balance-events';

export interface ProjectTaskDeps {
  sql: Sql;
  ledger: Ledger;
  rateCards: RateCards;
  balanceEvents: BalanceEvents;
}

export type Reservation = { ok: true; holdId: string } | { ok: false; needed: number; available: number };

/** How long a task's reservation lives if nothing settles it (a project stuck for a day). */
const HOLD_SECONDS = 24 * 3600;

/** Hold ids are derived from the project and task, so a retried reserve finds the same hold. */
function holdIdFor(projectId: string, position: number): string {
  return uuidFromSeed(`project-hold:${projectId}:${position}`);
}

/** An InsufficientCredits answer as a reservation that did not happen; anything else is rethrown. */
function notCovered(error: unknown): Reservation {
  if (error instanceof InsufficientCredits)
    return { ok: false, needed: error.needed, available: error.available };
  throw error;
}

/** Charges the planning step; `ok: false` with the amounts when the balance cannot cover it. */
export async function chargePlanning(
  deps: ProjectTaskDeps,
  input: { projectId: string; userId: string; rateCardVersion: number },
): Promise<Reservation> {
  const card = await deps.rateCards.version(input.rateCardVersion);
  const debitKey = `project:${input.projectId}:planning`;
  let result: Awaited<ReturnType<Ledger['debit']>>;
  try {
    result = await deps.ledger.debit({
      idempotencyKey: debitKey,
      userId: input.userId,
      amount: card.projectPlanning.credits,
      kind: 'usage:project_planning',
      description: `planning of project ${input.projectId}`,
      cause: { type: 'project_planning', id: input.projectId },
    });
  } catch (error) {
    return notCovered(error);
  }
  await addPlanningCost(deps.sql, input.projectId, card.projectPlanning.credits);
  if (!result.replayed) {
    await deps.balanceEvents.debited({
      userId: input.userId,
      debitKey,
      charged: result.amount,
      availableAfter: result.availableAfter,
    });
  }
  return { ok: true, holdId: '' };
}

/** The planner's tasks, priced with the project's rate card version, saved once. */
export async function savePlan(
  deps: Pick<ProjectTaskDeps, 'sql' | 'rateCards'>,
  input: { projectId: string; rateCardVersion: number; planned: { title: string; size: TaskSize }[] },
): Promise<PlannedTask[]> {
  const card = await deps.rateCards.version(input.rateCardVersion);
  const tasks = input.planned.map((t) => ({ ...t, estimate: taskPrice(card, t.size) }));
  await saveTaskList(deps.sql, input.projectId, tasks);
  return tasks;
}

/** Reserves a task's price (a hold); `ok: false` with the amounts when the balance cannot cover it. */
export async function reserveTask(
  deps: ProjectTaskDeps,
  input: { projectId: string; userId: string; position: number; estimate: number },
): Promise<Reservation> {
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
      // The post's transfers carry it: which project task the credits paid for.
      cause: { type: 'project_task', id: `${input.projectId}:${input.position}` },
    });
  } catch (error) {
    return notCovered(error);
  }
  await markTaskReserved(deps.sql, input.projectId, input.position, holdId);
  return { ok: true, holdId };
}

/**
 * Posts the task's actual cost (never above the reservation), releases the rest, records
 * progress. The settled cost is the task's debit: the notice rule sees the balance before it
 * as what is available after settling plus the cost (as if the task had been charged at once).
 */
export async function settleTask(
  deps: ProjectTaskDeps,
  input: {
    projectId: string;
    userId: string;
    position: number;
    holdId: string;
    estimate: number;
    usedCredits: number;
    output: string;
  },
): Promise<{ cost: number; creditsSpent: number }> {
  const cost = Math.min(Math.max(0, input.usedCredits), input.estimate);
  const key = `project:${input.projectId}:task:${input.position}:settle`;
  const { released } =
    cost > 0
      ? await deps.ledger.postHold({ idempotencyKey: key, holdId: input.holdId, amount: cost })
      : await deps.ledger.voidHold({ idempotencyKey: key, holdId: input.holdId });
  const { creditsSpent } = await markTaskCompleted(deps.sql, { ...input, cost });
  if (cost > 0) {
    // A retried settle asks again; the notice is keyed by the settlement, so it is recorded once.
    const { available } = await deps.ledger.balance(input.userId);
    await deps.balanceEvents.debited({
      userId: input.userId,
      debitKey: key,
      charged: cost,
      availableAfter: available,
    });
  }
  if (released > 0) await deps.balanceEvents.credited({ userId: input.userId, reason: 'hold_released' });
  return { cost, creditsSpent };
}

/** Voids a task's reservation (cancel, or a task that failed for good). */
export async function releaseTask(
  deps: ProjectTaskDeps,
  input: {
    projectId: string;
    userId: string;
    position: number;
    holdId: string;
    status: 'cancelled' | 'failed';
  },
): Promise<void> {
  try {
    await deps.ledger.voidHold({
      idempotencyKey: `project:${input.projectId}:task:${input.position}:release`,
      holdId: input.holdId,
    });
  } catch (error) {
    if (!(error instanceof HoldNotPending)) throw error; // already settled or expired: nothing held
  }
  await markTaskReleased(deps.sql, input);
  await deps.balanceEvents.credited({ userId: input.userId, reason: 'hold_released' });
}

/**
 * The money steps of a running project (DESIGN.md §5), called by the project workflow's
 * activities. Every movement is keyed by project and task, so retries, replays and a restarted
 * worker never charge a task twice; progress rows are updated conditionally for the same reason.
 * Each ledger write is followed by its balance event: planning and settled tasks are debits (a
 * crossing records the low-balance notice), released reservations are top-ups.
 * A task's agent (DESIGN.md §11) is read from its row, where the saved task list recorded it: the
 * hold carries it, so the posted transfers name it, and settling pays its creator's share.
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
  taskAgent,
  taskPositions,
} from '../db/projects';
import type { RateCards } from '../db/rate-cards';
import { HoldNotPending, InsufficientCredits, type TaskSize, taskPrice } from '../domain';
import { assignAgents } from './agents';
import type { BalanceEvents } from './balance-events';
import { creatorShareFor } from './creator-share';
import type { EarningSettings } from './earning-settings';

export interface ProjectTaskDeps {
  sql: Sql;
  ledger: Ledger;
  rateCards: RateCards;
  balanceEvents: BalanceEvents;
  /** The creator's share of a task run by their agent clears after `earning.clearingSeconds`. */
  earning: EarningSettings;
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

/**
 * The planner's tasks, priced with the project's rate card version, each with the agent the
 * planner chose for it, saved once. A retry returns what the first save recorded.
 */
export async function savePlan(
  deps: Pick<ProjectTaskDeps, 'sql' | 'rateCards'>,
  input: { projectId: string; rateCardVersion: number; planned: { title: string; size: TaskSize }[] },
): Promise<PlannedTask[]> {
  const card = await deps.rateCards.version(input.rateCardVersion);
  const priced = input.planned.map((t) => ({
    title: t.title,
    size: t.size,
    estimate: taskPrice(card, t.size),
  }));
  return saveTaskList(deps.sql, input.projectId, await assignAgents(deps.sql, input.projectId, priced));
}

/** Reserves a task's price (a hold); `ok: false` with the amounts when the balance cannot cover it. */
export async function reserveTask(
  deps: ProjectTaskDeps,
  input: { projectId: string; userId: string; position: number; estimate: number },
): Promise<Reservation> {
  const holdId = holdIdFor(input.projectId, input.position);
  const agentId = (await taskAgent(deps.sql, input.projectId, input.position))?.agentId;
  try {
    await deps.ledger.hold({
      idempotencyKey: `project:${input.projectId}:task:${input.position}:hold`,
      holdId,
      userId: input.userId,
      amount: input.estimate,
      kind: 'usage:project_task',
      description: `project ${input.projectId} task ${input.position + 1}`,
      expiresInSeconds: HOLD_SECONDS,
      // The post's transfers carry them: which project task the credits paid for, and its agent.
      cause: { type: 'project_task', id: `${input.projectId}:${input.position}` },
      agentId,
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
  let released: number;
  if (cost > 0) {
    // The creator's share is paid in the same ledger operation as the cost. The task's agent and
    // the project's rate card version are fixed, so a retried settle asks for the same share.
    const task = await taskAgent(deps.sql, input.projectId, input.position);
    const share = await creatorShareFor(deps, {
      payerId: input.userId,
      agentId: task?.agentId,
      charged: cost,
      rateCardVersion: task?.rateCardVersion,
    });
    ({ released } = await deps.ledger.postHold({
      idempotencyKey: key,
      holdId: input.holdId,
      amount: cost,
      share,
    }));
  } else {
    ({ released } = await deps.ledger.voidHold({ idempotencyKey: key, holdId: input.holdId }));
  }
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

/**
 * The project has ended: a task hold still pending now is one no step of the workflow will
 * settle or release. Its reserve committed on a worker that stopped before the workflow recorded
 * the result, and the replay on another worker ended the project (a cancel that arrived
 * meanwhile) before asking for that task again. Each is voided as a release would void it, so
 * the credits do not stay held until the hold expires a day later.
 */
export async function releaseOrphanedTaskHolds(
  deps: ProjectTaskDeps,
  input: { projectId: string; status: 'completed' | 'cancelled' | 'failed' },
): Promise<number> {
  const project = await taskPositions(deps.sql, input.projectId);
  if (!project) return 0;
  const holds = project.positions.map((position) => ({
    position,
    holdId: holdIdFor(input.projectId, position),
  }));
  const pending = new Set(await deps.ledger.pendingHolds(holds.map((h) => h.holdId)));
  const orphaned = holds.filter((h) => pending.has(h.holdId));
  for (const { position, holdId } of orphaned) {
    await releaseTask(deps, {
      projectId: input.projectId,
      userId: project.userId,
      position,
      holdId,
      status: input.status === 'failed' ? 'failed' : 'cancelled',
    });
  }
  return orphaned.length;
}

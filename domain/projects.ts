/**
 * A MultiTask project's progress, as the workflow, the database and the API all describe it.
 * Deterministic on purpose: the project workflow imports this module.
 */
import { formatCredits } from './credits';

export const PROJECT_STATUSES = ['running', 'paused', 'completed', 'cancelled', 'failed'] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

/** The largest budget a project may have (POST /v1/projects and POST /v1/projects/:id/budget). */
export const MAX_PROJECT_BUDGET = 1_000_000_000;

/**
 * Why a project waits, by the limit that stopped it (DESIGN.md §13: "the error or reason always
 * says which limit stopped the work"): the user's balance, or the project's own budget.
 */
export type PausedReason = InsufficientCreditsPause | BudgetExhaustedPause | AwaitingAutoTopUpPause;

/** The balance cannot cover the next step; a top-up (or the re-check timer) resumes it. */
export interface InsufficientCreditsPause {
  code: 'insufficient_credits';
  /** Absent on rows paused by runs recorded before budgets. */
  message?: string;
  needed: number;
  available: number;
}

/**
 * The balance cannot cover the next step, but an automatic top-up is being charged (DESIGN.md
 * §13): the project waits for it rather than reporting a shortage; if the top-up fails and
 * nothing else is in flight, it pauses for insufficient credits.
 */
export interface AwaitingAutoTopUpPause {
  code: 'awaiting_auto_top_up';
  message: string;
  /** The automatic purchase being charged. */
  purchaseId: string | null;
  needed: number;
  available: number;
}

/** The next step would take the project's spend above its budget; raising the budget resumes it. */
export interface BudgetExhaustedPause {
  code: 'budget_exhausted';
  message: string;
  /** The budget (maxCredits) when the project paused. */
  budget: number;
  /** Settled spend plus any credits still reserved, as the budget counts them. */
  spent: number;
  /** What the next step (planning, or the next task's reservation) needs. */
  needed: number;
}

export interface ProjectProgress {
  status: ProjectStatus;
  tasksCompleted: number;
  tasksTotal: number;
  creditsSpent: number;
  creditsReserved: number;
  pausedReason: PausedReason | null;
}

/** A budget as the API and the workflow's validator accept it: a whole number of credits, 1 to 1e9. */
export function isProjectBudget(value: unknown): value is number {
  return (
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= MAX_PROJECT_BUDGET
  );
}

/**
 * Finish-or-stop (DESIGN.md §13): a step may start only if the budget pays all of it, counted
 * as its whole reservation (the settled cost is never above it), on top of what is spent and
 * still reserved. No budget allows everything.
 */
export function budgetAllows(budget: number | null, committed: number, needed: number): boolean {
  return budget === null || committed + needed <= budget;
}

export function awaitingAutoTopUpPause(
  purchaseId: string | null,
  needed: number,
  available: number,
): AwaitingAutoTopUpPause {
  return {
    code: 'awaiting_auto_top_up',
    message: `waiting for an automatic top-up in flight: the next step needs ${formatCredits(needed)} credits, the available balance is ${formatCredits(available)}`,
    purchaseId,
    needed,
    available,
  };
}

export function insufficientCreditsPause(needed: number, available: number): InsufficientCreditsPause {
  return {
    code: 'insufficient_credits',
    message: `insufficient credits: the next step needs ${formatCredits(needed)} credits, the available balance is ${formatCredits(available)}; a top-up resumes the project`,
    needed,
    available,
  };
}

/** `step` names what waits, for the message: "planning" or "task 3". */
export function budgetExhaustedPause(p: {
  budget: number;
  spent: number;
  needed: number;
  step: string;
}): BudgetExhaustedPause {
  return {
    code: 'budget_exhausted',
    message:
      `budget exhausted: the project's budget is ${formatCredits(p.budget)} credits, ` +
      `${formatCredits(p.spent)} are spent, ${p.step} needs ${formatCredits(p.needed)}; ` +
      `raise maxCredits to at least ${formatCredits(p.spent + p.needed)} to go on`,
    budget: p.budget,
    spent: p.spent,
    needed: p.needed,
  };
}

/**
 * Why a new budget is refused, or null when it is at least what is already committed: it may
 * be lowered, but never below what is spent plus what the task in progress has reserved (that
 * task always completes). The API's check and the workflow's validator say the same.
 */
export function budgetBelowSpend(maxCredits: number, spent: number, reserved: number): string | null {
  const committed = spent + reserved;
  if (maxCredits >= committed) return null;
  const detail =
    reserved > 0
      ? ` (${formatCredits(spent)} spent, ${formatCredits(reserved)} reserved for the task in progress)`
      : '';
  return `must be at least ${formatCredits(committed)}, already spent${detail}`;
}

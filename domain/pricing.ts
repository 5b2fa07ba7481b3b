/**
 * Pricing from a rate card: pure integer arithmetic, so the API's estimates, the API's charges
 * and the project workflow's reservations all come from the same function and always agree.
 */
import { formatCredits, MAX_CREDITS_PER_OPERATION } from './credits';
import { ValidationError } from './errors';
import { planFromPrompt } from './planning';
import { type Feature, type MessageRates, ownEntry, type RateCard, type TaskSize } from './rates';

export interface UsageInput {
  feature: Feature;
  model?: string | undefined;
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
  trainingUnits?: number | undefined;
}

export interface PriceLine {
  item: string;
  quantity?: number;
  credits: number;
}

export interface Price {
  credits: number;
  rateCardVersion: number;
  breakdown: PriceLine[];
}

/**
 * ceil(a * b / d) for non-negative integers, exact: when the product leaves the safe-integer
 * range (a huge token count on an expensive card) it is computed in BigInt instead of rounding.
 */
function mulCeilDiv(a: number, b: number, d: number): number {
  const product = a * b;
  if (Number.isSafeInteger(product) && Number.isSafeInteger(product + d)) {
    return Math.floor((product + d - 1) / d);
  }
  return Number((BigInt(a) * BigInt(b) + BigInt(d) - 1n) / BigInt(d));
}

export function multiplierBp(card: RateCard, model: string | undefined): { model: string; bp: number } {
  const name = model ?? card.models.default;
  const bp = ownEntry(card.models.multipliersBp, name);
  if (bp === undefined) {
    const known = Object.keys(card.models.multipliersBp).join(', ');
    throw new ValidationError('model', `unknown model "${name}" (known: ${known})`);
  }
  return { model: name, bp };
}

/** Base + tokens, then the model multiplier (rounded up to a whole credit). */
function messageLines(rates: MessageRates, card: RateCard, input: UsageInput, label: string): PriceLine[] {
  const lines: PriceLine[] = [{ item: `${label} base`, credits: rates.baseCredits }];
  const inputTokens = input.inputTokens ?? 0;
  const outputTokens = input.outputTokens ?? 0;
  if (inputTokens > 0) {
    lines.push({
      item: 'input tokens',
      quantity: inputTokens,
      credits: mulCeilDiv(inputTokens, rates.per1kInputTokens, 1000),
    });
  }
  if (outputTokens > 0) {
    lines.push({
      item: 'output tokens',
      quantity: outputTokens,
      credits: mulCeilDiv(outputTokens, rates.per1kOutputTokens, 1000),
    });
  }
  const subtotal = lines.reduce((sum, l) => sum + l.credits, 0);
  const { model, bp } = multiplierBp(card, input.model);
  const total = mulCeilDiv(subtotal, bp, 10_000);
  if (total !== subtotal) lines.push({ item: `model ${model} (×${bp / 10_000})`, credits: total - subtotal });
  return lines;
}

export function priceUsage(card: RateCard, input: UsageInput): Price {
  let lines: PriceLine[];
  switch (input.feature) {
    case 'conversation':
      lines = messageLines(card.conversation, card, input, 'conversation');
      break;
    case 'continuation':
      lines = messageLines(card.continuation, card, input, 'continuation');
      break;
    case 'rag':
      lines = [
        ...messageLines(card.conversation, card, input, 'conversation'),
        { item: 'RAG surcharge', credits: card.rag.surchargeCredits },
      ];
      break;
    case 'upskilling': {
      const units = input.trainingUnits;
      if (units === undefined) throw new ValidationError('trainingUnits', 'is required for upskilling');
      multiplierBp(card, input.model); // an unknown model is still an error, even though it is not priced
      lines = [{ item: 'training units', quantity: units, credits: units * card.upskilling.perTrainingUnit }];
      break;
    }
  }
  const price = total(card, lines);
  if (price.credits > MAX_CREDITS_PER_OPERATION) {
    // Only an extreme rate card gets here; name the quantity the client can change.
    throw new ValidationError(
      sizeField(input),
      `is too large for this rate card: the event would cost ${formatCredits(price.credits)} credits, above the ${formatCredits(MAX_CREDITS_PER_OPERATION)} one charge may move`,
    );
  }
  return price;
}

function sizeField(input: UsageInput): string {
  if (input.feature === 'upskilling') return 'trainingUnits';
  return (input.inputTokens ?? 0) > (input.outputTokens ?? 0) ? 'inputTokens' : 'outputTokens';
}

/**
 * What a runner asks for (POST /v1/projects, POST /v1/estimates): its tasks, sizes optional, or a
 * prompt to plan them from; the workflow's input is `ProjectInput` in workflows/messages.ts.
 */
export interface ProjectRequest {
  tasks?: { title: string; size?: TaskSize | undefined }[] | undefined;
  prompt?: string | undefined;
}

/** The task list a project will run: the runner's, or the planner's from the prompt. */
export function projectTasks(input: ProjectRequest): { title: string; size: TaskSize }[] {
  if (input.tasks && input.tasks.length > 0) {
    return input.tasks.map((t) => ({ title: t.title, size: t.size ?? 'medium' }));
  }
  if (input.prompt) return planFromPrompt(input.prompt);
  throw new ValidationError('tasks', 'give tasks, or a prompt to plan them from');
}

export function taskPrice(card: RateCard, size: TaskSize): number {
  // The type says a size, but the value may come from a stored request: look up own sizes only.
  const credits = ownEntry<number>(card.projectTask, size);
  if (credits === undefined) throw new ValidationError('size', `unknown task size "${size}"`);
  return credits;
}

/** Planning is charged only when the planner makes the task list (a prompt and no tasks). */
export function needsPlanning(input: ProjectRequest): boolean {
  return !(input.tasks && input.tasks.length > 0) && !!input.prompt;
}

export function priceProject(card: RateCard, input: ProjectRequest): Price {
  const lines: PriceLine[] = [];
  if (needsPlanning(input)) lines.push({ item: 'project planning', credits: card.projectPlanning.credits });
  for (const [i, task] of projectTasks(input).entries()) {
    lines.push({ item: `task ${i + 1}: ${task.title} (${task.size})`, credits: taskPrice(card, task.size) });
  }
  return total(card, lines);
}

/**
 * What a project's first step costs: planning when the planner makes the tasks, else the first
 * task. A budget below it could never start anything, so POST /v1/projects refuses it (400
 * naming maxCredits) instead of creating a project that pauses before doing anything.
 */
export function firstStepPrice(card: RateCard, input: ProjectRequest): { step: string; credits: number } {
  if (needsPlanning(input)) return { step: 'planning', credits: card.projectPlanning.credits };
  const [first] = projectTasks(input);
  return { step: 'task 1', credits: taskPrice(card, first!.size) };
}

/** Whether a budget pays for a whole project, as its estimate prices it (POST /v1/estimates). */
export interface BudgetVerdict {
  maxCredits: number;
  /** The whole estimate fits: the project will not pause for its budget. */
  covers: boolean;
  /** How much more the budget would need to cover the whole estimate (0 when it covers it). */
  shortBy: number;
  /**
   * How many tasks run before the project pauses for its budget, each counted at its estimate
   * (what its reservation holds), after planning if any. Tasks that cost less than their
   * estimate can only leave room for more, so this is a floor.
   */
  tasksCovered: number;
}

export function budgetVerdict(card: RateCard, input: ProjectRequest, maxCredits: number): BudgetVerdict {
  const price = priceProject(card, input);
  // The same order and rule as the workflow: a step starts only if all of it fits.
  let committed = needsPlanning(input) ? card.projectPlanning.credits : 0;
  let tasksCovered = 0;
  if (committed <= maxCredits) {
    for (const task of projectTasks(input)) {
      const credits = taskPrice(card, task.size);
      if (committed + credits > maxCredits) break;
      committed += credits;
      tasksCovered++;
    }
  }
  return {
    maxCredits,
    covers: price.credits <= maxCredits,
    shortBy: Math.max(0, price.credits - maxCredits),
    tasksCovered,
  };
}

function total(card: RateCard, lines: PriceLine[]): Price {
  return {
    credits: lines.reduce((sum, l) => sum + l.credits, 0),
    rateCardVersion: card.version,
    breakdown: lines,
  };
}

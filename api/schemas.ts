/** Request bodies shared by several routes (usage, estimates, projects), and the text and number rules every route uses. */
import { z } from 'zod';
import { FEATURES, MAX_CREDITS_PER_OPERATION, MAX_PROJECT_BUDGET, TASK_SIZES } from '../domain';

/**
 * C0 and C1 control characters and DEL (Unicode's Cc). Postgres cannot store NUL in text at all
 * (the insert fails), and the others mean nothing in an id or a name, so a client's mistake
 * shows as a 400 naming the field instead of a 500 from the database.
 */
const CONTROL = /\p{Cc}/u;
/** Free text (a prompt, a note) has lines: tabs and line breaks are its only allowed controls. */
const LINES = /[\t\n\r]/g;
/** A lone UTF-16 surrogate is not text: it cannot be encoded as UTF-8, so Postgres gets garbage. */
const LONE_SURROGATE = /\p{Cs}/u;
/** Something a reader can see: not only whitespace, separators or invisible format characters. */
const VISIBLE = /[^\s\p{Z}\p{Cf}]/u;

/** A string of at most `max` characters that is well formed: no control characters, no lone surrogates. */
function wellFormedText(max: number, allowLines: boolean, min: number) {
  return z
    .string({ message: 'must be a string' })
    .min(min, { message: 'must not be empty' })
    .max(max, { message: `must be at most ${max.toLocaleString('en-US')} characters` })
    .refine((s) => !CONTROL.test(allowLines ? s.replace(LINES, '') : s), {
      message: 'must not contain control characters',
    })
    .refine((s) => !LONE_SURROGATE.test(s), { message: 'must be valid Unicode (a lone surrogate is not)' });
}

function textRules(max: number, allowLines: boolean) {
  return wellFormedText(max, allowLines, 1).refine((s) => VISIBLE.test(s), { message: 'must not be blank' });
}

/**
 * An id, key, name or title (DESIGN.md §9): 1 to `max` characters, at least one of them
 * visible, no control characters, no lone surrogates. Every route's ids and names use it.
 */
export function visibleText(max: number) {
  return textRules(max, false);
}

/** Free text (a prompt, a note, a reason): as visibleText, but tabs and line breaks are allowed. */
export function freeText(max: number) {
  return textRules(max, true);
}

/**
 * Text a client keeps for itself and gets back later (an agent runtime's checkpoint): it may be
 * empty or blank, and have tabs and line breaks, but no other control characters and no lone
 * surrogates, which a reader in another language may fail to decode.
 */
export function opaqueText(max: number) {
  return wellFormedText(max, true, 0);
}

/**
 * A whole number in a query string or path. Only decimal digits: `1e2`, `0x1`, `1.0`, ` 1`,
 * `+1` are refused instead of being read as 100, 1, 1, 1, 1 (what Number() would make of them),
 * so a client that sends something odd hears about it.
 */
export function integerParam(min: number, max: number) {
  return z
    .string({ message: 'must be a whole number' })
    .regex(/^[0-9]{1,16}$/, { message: 'must be a whole number (decimal digits only)' })
    .transform(Number)
    .pipe(wholeNumber(min, max));
}

/** The days a date may name: Postgres has no year 0, and nothing in the ledger predates 1970. */
const FIRST_DAY = '1970-01-01';
const LAST_DAY = '9999-12-31';

/** A calendar day, YYYY-MM-DD, from 1970-01-01 to 9999-12-31 (zod's format check alone allows year 0000). */
export function isoDay() {
  return z.iso
    .date({ message: 'must be a date, YYYY-MM-DD' })
    .refine((day) => day >= FIRST_DAY && day <= LAST_DAY, {
      message: `must be a day from ${FIRST_DAY} to ${LAST_DAY}`,
    });
}

/** A whole number in [min, max] with messages that say what is wrong in plain words. */
export function wholeNumber(min: number, max: number) {
  return z
    .number({ message: 'must be a number' })
    .int({ message: 'must be a whole number' })
    .min(min, { message: min === 0 ? 'must not be negative' : `must be at least ${min}` })
    .max(max, { message: `must be at most ${max.toLocaleString('en-US')}` });
}

const TOKENS_MAX = 10_000_000;

/**
 * An id from outside (a path, a body): a UUID, in lowercase as Postgres writes them, so `ABC…`
 * and `abc…` name the same thing everywhere the id is used as text: Temporal workflow ids
 * (`withdrawal-<id>`), agents' creator shares, ratings and earnings. `what` names it in the
 * message: "must be a withdrawal id (UUID)".
 */
export function uuidOf(what: string) {
  return z.uuid({ message: `must be ${what} (UUID)` }).transform((id) => id.toLowerCase());
}

const agentIdSchema = uuidOf('an agent id');

const usageFields = {
  feature: z.enum(FEATURES, { message: `must be one of ${FEATURES.join(', ')}` }),
  model: visibleText(64).optional(),
  inputTokens: wholeNumber(0, TOKENS_MAX).optional(),
  outputTokens: wholeNumber(0, TOKENS_MAX).optional(),
  trainingUnits: wholeNumber(1, 1_000_000).optional(),
  agentId: agentIdSchema.optional(),
};

function trainingUnitsOnlyForUpskilling<T extends { feature: string; trainingUnits?: number | undefined }>(
  body: T,
  ctx: z.RefinementCtx,
) {
  if (body.feature === 'upskilling' && body.trainingUnits === undefined) {
    ctx.addIssue({ code: 'custom', path: ['trainingUnits'], message: 'is required for upskilling' });
  }
  if (body.feature !== 'upskilling' && body.trainingUnits !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['trainingUnits'], message: 'is only for upskilling' });
  }
}

export const usageEstimateBody = z.object(usageFields).strict().superRefine(trainingUnitsOnlyForUpskilling);

export const usageBody = z
  .object({
    ...usageFields,
    eventId: visibleText(200),
  })
  .strict()
  .superRefine(trainingUnitsOnlyForUpskilling);

export const MAX_PROJECT_TASKS = 1000;

export const projectTaskBody = z
  .object({
    title: visibleText(200),
    size: z.enum(TASK_SIZES, { message: `must be one of ${TASK_SIZES.join(', ')}` }).optional(),
    /** The published agent that runs the task; without one the planner chooses (app/agents.ts). */
    agentId: agentIdSchema.optional(),
  })
  .strict();

/** A project's budget (DESIGN.md §13): whole credits; a string such as "100" is refused, not read. */
const projectBudget = wholeNumber(1, MAX_PROJECT_BUDGET);

const projectFields = {
  tasks: z.array(projectTaskBody).min(1).max(MAX_PROJECT_TASKS).optional(),
  prompt: freeText(10_000).optional(),
  maxCredits: projectBudget.optional(),
};

function tasksOrPrompt(
  body: { tasks?: unknown[] | undefined; prompt?: string | undefined },
  ctx: z.RefinementCtx,
) {
  if (!body.tasks && !body.prompt) {
    ctx.addIssue({ code: 'custom', path: ['tasks'], message: 'give tasks, or a prompt to plan them from' });
  }
}

export const projectEstimateBody = z
  .object({ name: visibleText(200).optional(), ...projectFields })
  .strict()
  .superRefine(tasksOrPrompt);

export const projectBody = z
  .object({ name: visibleText(200), ...projectFields })
  .strict()
  .superRefine(tasksOrPrompt);

/** POST /v1/projects/:id/budget: the new budget, raised or lowered. */
export const projectBudgetBody = z.object({ maxCredits: projectBudget }).strict();

export const dateRangeQuery = z
  .object({
    from: isoDay().optional(),
    to: isoDay().optional(),
  })
  .strict();

/** The most an auto top-up may spend in a month: $10,000,000 in cents (far above any real limit). */
export const MAX_AUTO_TOP_UP_MONTHLY_CENTS = 1_000_000_000;

/** `PUT /v1/settings {autoTopUp}` (DESIGN.md §13): when, which package, at most how much a month. */
export const autoTopUpBody = z
  .object({
    enabled: z.boolean({ message: 'must be true or false' }),
    belowCredits: wholeNumber(0, MAX_CREDITS_PER_OPERATION),
    packageId: visibleText(100),
    monthlyLimitCents: wholeNumber(1, MAX_AUTO_TOP_UP_MONTHLY_CENTS),
  })
  .strict();

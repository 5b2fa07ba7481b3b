/** Request bodies shared by several routes (usage, estimates, projects). */
import { z } from 'zod';
import { FEATURES, TASK_SIZES } from '../domain';

/** A whole number in [min, max] with messages that say what is wrong in plain words. */
export function wholeNumber(min: number, max: number) {
  return z
    .number({ message: 'must be a number' })
    .int({ message: 'must be a whole number' })
    .min(min, { message: min === 0 ? 'must not be negative' : `must be at least ${min}` })
    .max(max, { message: `must be at most ${max.toLocaleString('en-US')}` });
}

const TOKENS_MAX = 10_000_000;

const usageFields = {
  feature: z.enum(FEATURES, { message: `must be one of ${FEATURES.join(', ')}` }),
  model: z.string().min(1).max(64).optional(),
  inputTokens: wholeNumber(0, TOKENS_MAX).optional(),
  outputTokens: wholeNumber(0, TOKENS_MAX).optional(),
  trainingUnits: wholeNumber(1, 1_000_000).optional(),
  agentId: z.uuid({ message: 'must be an agent id (UUID)' }).optional(),
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
    eventId: z
      .string({ message: 'must be a string' })
      .min(1, { message: 'must not be empty' })
      .max(200, { message: 'must be at most 200 characters' }),
  })
  .strict()
  .superRefine(trainingUnitsOnlyForUpskilling);

export const MAX_PROJECT_TASKS = 1000;

export const projectTaskBody = z
  .object({
    title: z.string({ message: 'must be a string' }).min(1).max(200),
    size: z.enum(TASK_SIZES, { message: `must be one of ${TASK_SIZES.join(', ')}` }).optional(),
  })
  .strict();

const projectFields = {
  tasks: z.array(projectTaskBody).min(1).max(MAX_PROJECT_TASKS).optional(),
  prompt: z.string().min(1).max(10_000).optional(),
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
  .object({ name: z.string().min(1).max(200).optional(), ...projectFields })
  .strict()
  .superRefine(tasksOrPrompt);

export const projectBody = z
  .object({ name: z.string({ message: 'must be a string' }).min(1).max(200), ...projectFields })
  .strict()
  .superRefine(tasksOrPrompt);

export const dateRangeQuery = z
  .object({
    from: z.iso.date({ message: 'must be a date, YYYY-MM-DD' }).optional(),
    to: z.iso.date({ message: 'must be a date, YYYY-MM-DD' }).optional(),
  })
  .strict();

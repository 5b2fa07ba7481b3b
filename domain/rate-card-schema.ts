/**
 * The zod schema of a rate card body: parses what operators publish and what Postgres returns.
 * Kept out of domain/index.ts so the workflow bundle does not carry zod.
 */
import { z } from 'zod';

const credits = z.number().int().min(0).max(1_000_000);
/**
 * Every usage event costs at least one credit (a base price and a per-unit price of at least 1):
 * a free event would be a zero-amount debit, which the ledger refuses, so a card that allows one
 * would turn valid usage into errors.
 */
const messageRates = z
  .object({ baseCredits: credits.min(1), per1kInputTokens: credits, per1kOutputTokens: credits })
  .strict();

/**
 * JSON.parse makes a "__proto__" key an own property, and z.record drops it without a word: an
 * operator who published one would get a card without the model they named. Refuse it by name.
 */
function refuseProtoKey(value: unknown, ctx: { addIssue(issue: z.core.$ZodRawIssue): void }): unknown {
  if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__')) {
    ctx.addIssue({ code: 'custom', input: value, path: ['__proto__'], message: 'is not a model name' });
  }
  return value;
}

export const rateCardBodySchema = z
  .object({
    conversation: messageRates,
    continuation: messageRates,
    rag: z.object({ surchargeCredits: credits }).strict(),
    upskilling: z.object({ perTrainingUnit: credits.min(1) }).strict(),
    projectPlanning: z.object({ credits }).strict(),
    projectTask: z.object({ small: credits.min(1), medium: credits.min(1), large: credits.min(1) }).strict(),
    // The agent creator's share of every charge for their agent (DESIGN.md §11), in basis points.
    // Cards published before creator earnings existed say nothing: they get the product's 30%.
    creatorShareBp: z.number().int().min(0).max(10_000).default(3000),
    models: z
      .object({
        default: z.string().min(1).max(64),
        multipliersBp: z.preprocess(
          refuseProtoKey,
          z.record(
            z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { message: 'model names are lowercase ids' }),
            z.number().int().min(1).max(1_000_000),
          ),
        ),
      })
      .strict()
      // Own keys only: `in` would also find `constructor` and `toString` on Object.prototype.
      .refine((m) => Object.hasOwn(m.multipliersBp, m.default), {
        message: 'default must be one of multipliersBp',
        path: ['default'],
      }),
  })
  .strict();

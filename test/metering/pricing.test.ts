import fc from 'fast-check';
import {
  MAX_CREDITS_PER_OPERATION,
  MAX_PLANNED_TASKS,
  planFromPrompt,
  priceProject,
  priceUsage,
  projectTasks,
  type RateCard,
  ValidationError,
} from '../../domain';
import { rateCardBodySchema } from '../../domain/rate-card-schema';
import { LAUNCH_CARD, launchCard, referencePrice, type UsageEvent } from './support';

const card = launchCard();
const sum = (lines: { credits: number }[]) => lines.reduce((s, l) => s + l.credits, 0);

describe('priceUsage on the launch card', () => {
  test.each<[string, Omit<UsageEvent, 'eventId'>, number]>([
    ['a bare conversation message costs its base', { feature: 'conversation' }, 2],
    ['1 input token rounds up to 1 credit', { feature: 'conversation', inputTokens: 1 }, 3],
    ['1,000 input tokens are exactly 1 credit', { feature: 'conversation', inputTokens: 1000 }, 3],
    ['1,001 input tokens round up to 2 credits', { feature: 'conversation', inputTokens: 1001 }, 4],
    ['250 output tokens at 4/1k are exactly 1 credit', { feature: 'conversation', outputTokens: 250 }, 3],
    ['251 output tokens round up to 2 credits', { feature: 'conversation', outputTokens: 251 }, 4],
    ['zero tokens cost nothing extra', { feature: 'conversation', inputTokens: 0, outputTokens: 0 }, 2],
    [
      'tokens on both sides add up',
      { feature: 'conversation', inputTokens: 1500, outputTokens: 1000 },
      2 + 2 + 4,
    ],
    [
      'the advanced model triples the subtotal',
      { feature: 'conversation', outputTokens: 1000, model: 'advanced' },
      18,
    ],
    [
      'the lite model halves it, rounding up',
      { feature: 'conversation', outputTokens: 250, model: 'lite' },
      2,
    ],
    ['the standard model is the default', { feature: 'conversation', model: 'standard' }, 2],
    ['a continuation has its own base', { feature: 'continuation' }, 3],
    [
      'a continuation prices tokens too',
      { feature: 'continuation', outputTokens: 500, model: 'advanced' },
      15,
    ],
    ['a RAG query is a conversation plus the surcharge', { feature: 'rag' }, 7],
    ['the RAG surcharge is not multiplied', { feature: 'rag', model: 'advanced', inputTokens: 10 }, 9 + 5],
    ['upskilling is per training unit', { feature: 'upskilling', trainingUnits: 3 }, 60],
    [
      'upskilling ignores the model multiplier',
      { feature: 'upskilling', trainingUnits: 1, model: 'advanced' },
      20,
    ],
  ])('when %s, then the price is right', (_name, input, credits) => {
    const price = priceUsage(card, input);
    expect(price.credits).toBe(credits);
    expect(price.rateCardVersion).toBe(1);
    expect(sum(price.breakdown)).toBe(credits);
  });

  test('when a conversation has tokens and a model, then the breakdown names every part', () => {
    const price = priceUsage(card, {
      feature: 'conversation',
      inputTokens: 1500,
      outputTokens: 250,
      model: 'lite',
    });
    expect(price).toEqual({
      credits: 3,
      rateCardVersion: 1,
      breakdown: [
        { item: 'conversation base', credits: 2 },
        { item: 'input tokens', quantity: 1500, credits: 2 },
        { item: 'output tokens', quantity: 250, credits: 1 },
        { item: 'model lite (×0.5)', credits: -2 },
      ],
    });
  });

  test('when the model is unknown, then a ValidationError names model and lists the known ones', () => {
    expect(() => priceUsage(card, { feature: 'conversation', model: 'gpt-9' })).toThrow(
      new ValidationError('model', 'unknown model "gpt-9" (known: lite, standard, advanced)'),
    );
    // Upskilling does not use the multiplier, but an unknown model is still a mistake.
    expect(() => priceUsage(card, { feature: 'upskilling', trainingUnits: 1, model: 'gpt-9' })).toThrow(
      ValidationError,
    );
  });

  test('when upskilling has no training units, then a ValidationError names trainingUnits', () => {
    expect(() => priceUsage(card, { feature: 'upskilling' })).toThrow(/^trainingUnits:/);
  });
});

describe('priceUsage on any valid card and input', () => {
  const credits = fc.integer({ min: 0, max: 1_000_000 });
  const anyCard: fc.Arbitrary<RateCard> = fc.record({
    version: fc.integer({ min: 1, max: 1000 }),
    conversation: fc.record({
      baseCredits: fc.integer({ min: 1, max: 1_000_000 }),
      per1kInputTokens: credits,
      per1kOutputTokens: credits,
    }),
    continuation: fc.record({
      baseCredits: fc.integer({ min: 1, max: 1_000_000 }),
      per1kInputTokens: credits,
      per1kOutputTokens: credits,
    }),
    rag: fc.record({ surchargeCredits: credits }),
    upskilling: fc.record({ perTrainingUnit: fc.integer({ min: 1, max: 1_000_000 }) }),
    projectPlanning: fc.record({ credits }),
    projectTask: fc.record({
      small: fc.integer({ min: 1, max: 1_000_000 }),
      medium: fc.integer({ min: 1, max: 1_000_000 }),
      large: fc.integer({ min: 1, max: 1_000_000 }),
    }),
    creatorShareBp: fc.integer({ min: 0, max: 10_000 }),
    models: fc.record({
      default: fc.constant('standard'),
      multipliersBp: fc.record({
        standard: fc.integer({ min: 1, max: 1_000_000 }),
        other: fc.integer({ min: 1, max: 1_000_000 }),
      }),
    }),
  });
  const tokens = fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: undefined });
  const anyInput: fc.Arbitrary<Omit<UsageEvent, 'eventId'>> = fc.oneof(
    fc.record({
      feature: fc.constantFrom('conversation' as const, 'continuation' as const, 'rag' as const),
      model: fc.constantFrom(undefined, 'standard', 'other'),
      inputTokens: tokens,
      outputTokens: tokens,
    }),
    fc.record({
      feature: fc.constant('upskilling' as const),
      trainingUnits: fc.integer({ min: 1, max: 1_000_000 }),
    }),
  );

  test('then the price is a whole number of at least 1 credit, equal to the reference and to its breakdown', () => {
    fc.assert(
      fc.property(anyCard, anyInput, (c, input) => {
        const { version: _version, ...body } = c;
        expect(rateCardBodySchema.safeParse(body).success).toBe(true);
        const expected = referencePrice(c, input);
        if (expected > MAX_CREDITS_PER_OPERATION) {
          expect(() => priceUsage(c, input)).toThrow(
            /^(inputTokens|outputTokens|trainingUnits): is too large/,
          );
          return;
        }
        const price = priceUsage(c, input);
        expect(Number.isSafeInteger(price.credits)).toBe(true);
        expect(price.credits).toBeGreaterThanOrEqual(1);
        expect(price.credits).toBe(expected);
        expect(sum(price.breakdown)).toBe(price.credits);
        expect(price.rateCardVersion).toBe(c.version);
      }),
      { numRuns: 500 },
    );
  });

  test('then more tokens never cost less', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.constantFrom('lite', 'standard', 'advanced'),
        (a, b, model) => {
          const low = priceUsage(card, { feature: 'conversation', outputTokens: Math.min(a, b), model });
          const high = priceUsage(card, { feature: 'conversation', outputTokens: Math.max(a, b), model });
          expect(high.credits).toBeGreaterThanOrEqual(low.credits);
        },
      ),
    );
  });

  test('when the product of tokens and multiplier leaves the safe-integer range, then the price is still exact', () => {
    const pricey: RateCard = {
      ...launchCard(7),
      conversation: { baseCredits: 1, per1kInputTokens: 0, per1kOutputTokens: 999_999 },
      models: { default: 'x', multipliersBp: { x: 999_999 } },
    };
    // subtotal = 1 + 10,000,000 × 999,999 / 1000 = 9,999,990,001; × 999,999 leaves 2^53.
    const input = { feature: 'conversation' as const, outputTokens: 10_000_000 };
    expect(9_999_990_001 * 999_999).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
    expect(priceUsage(pricey, input).credits).toBe(referencePrice(pricey, input));
    expect(priceUsage(pricey, input).credits).toBe(999_998_000_101); // floating point would say ...102
  });

  test('when an extreme card prices an event above what one charge may move, then the error names the token field', () => {
    const extreme: RateCard = {
      ...launchCard(8),
      conversation: { baseCredits: 1, per1kInputTokens: 1_000_000, per1kOutputTokens: 0 },
      models: { default: 'x', multipliersBp: { x: 1_000_000 } },
    };
    expect(() => priceUsage(extreme, { feature: 'conversation', inputTokens: 10_000_000 })).toThrow(
      /^inputTokens: is too large for this rate card/,
    );
  });
});

describe('priceProject', () => {
  test('when tasks are given, then each is priced by size (medium by default) and nothing is planned', () => {
    const price = priceProject(card, {
      tasks: [{ title: 'schema', size: 'small' }, { title: 'api' }, { title: 'ui', size: 'large' }],
    });
    expect(price.credits).toBe(25 + 75 + 200);
    expect(price.breakdown.map((l) => l.item)).toEqual([
      'task 1: schema (small)',
      'task 2: api (medium)',
      'task 3: ui (large)',
    ]);
  });

  test('when only a prompt is given, then planning is charged and the planner’s tasks are priced', () => {
    const prompt = 'Build a login page. Add a password reset flow that emails a one-time link to the user.';
    const planned = planFromPrompt(prompt);
    expect(planned).toEqual([
      { title: 'Build a login page.', size: 'small' },
      { title: 'Add a password reset flow that emails a one-time link to the user.', size: 'medium' },
    ]);
    const price = priceProject(card, { prompt });
    expect(price.breakdown[0]).toEqual({ item: 'project planning', credits: 50 });
    expect(price.credits).toBe(50 + 25 + 75);
    expect(sum(price.breakdown)).toBe(price.credits);
  });

  test('when both tasks and a prompt are given, then the tasks are used and planning is not charged', () => {
    const price = priceProject(card, {
      tasks: [{ title: 'one', size: 'small' }],
      prompt: 'ignored. really.',
    });
    expect(price.credits).toBe(25);
    expect(price.breakdown.some((l) => l.item === 'project planning')).toBe(false);
  });

  test('when the prompt is long, then the planner stops at its task limit and sizes by length', () => {
    const prompt = Array.from({ length: 80 }, (_, i) => `Step ${i}.`).join(' ');
    expect(planFromPrompt(prompt)).toHaveLength(MAX_PLANNED_TASKS);
    expect(planFromPrompt('x'.repeat(200))[0]).toEqual({ title: `${'x'.repeat(77)}...`, size: 'large' });
  });

  test('when the same prompt is planned twice, then the plan and the price are the same (deterministic)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 500 }), (prompt) => {
        expect(planFromPrompt(prompt)).toEqual(planFromPrompt(prompt));
        expect(priceProject(card, { prompt })).toEqual(priceProject(card, { prompt }));
        expect(projectTasks({ prompt }).length).toBeGreaterThanOrEqual(1);
      }),
    );
  });

  test('when there are neither tasks nor a prompt, then a ValidationError names tasks', () => {
    expect(() => priceProject(card, {})).toThrow(/^tasks:/);
  });
});

describe('the rate card schema', () => {
  test('when the launch card is parsed, then it is valid', () => {
    expect(rateCardBodySchema.parse(LAUNCH_CARD)).toEqual(LAUNCH_CARD);
  });

  test.each<[string, string, unknown]>([
    ['a free conversation base', 'conversation.baseCredits', 0],
    ['a free continuation base', 'continuation.baseCredits', 0],
    ['free upskilling', 'upskilling.perTrainingUnit', 0],
    ['a fractional price', 'rag.surchargeCredits', 1.5],
    ['a negative price', 'projectPlanning.credits', -1],
    ['a zero-priced task size', 'projectTask.small', 0],
    ['a default model without a multiplier', 'models.default', 'gpt-9'],
    ['a zero multiplier', 'models.multipliersBp.lite', 0],
  ])('when a card has %s, then it is refused at %s', (_name, path, value) => {
    const body: Record<string, unknown> = structuredClone(LAUNCH_CARD) as never;
    const keys = path.split('.');
    const parent = keys.slice(0, -1).reduce((o, k) => o[k] as Record<string, unknown>, body);
    parent[keys[keys.length - 1]!] = value;
    const result = rateCardBodySchema.safeParse(body);
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.path.join('.')).toBe(path);
  });
});

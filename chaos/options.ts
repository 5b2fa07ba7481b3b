import { z } from 'zod';

/**
 * What one `npm run chaos` does, from the command line and the environment:
 * `--long` (or CHAOS_SECONDS) lengthens the fault phase; CHAOS_SEED replays a run's random choices.
 */
export interface ChaosOptions {
  /** How long load runs with faults injected. */
  chaosSeconds: number;
  /** Each of the four throughput phases (1 API, 2 APIs, twice), before any fault. */
  throughputSeconds: number;
  /** Deadline for purchases and projects to settle once the faults stop. */
  settleSeconds: number;
  seed: number;
  /**
   * Count as violations, also while Postgres is being restarted or its backends terminated: an
   * HTTP 5xx other than 503, and an API or worker process dying by itself.
   */
  strict: boolean;
  long: boolean;
}

const SHORT_SECONDS = 30;
const LONG_SECONDS = 600;

const envSchema = z.object({
  CHAOS_SECONDS: z.coerce.number().int().min(10).max(86_400).optional(),
  CHAOS_SEED: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 31)
    .optional(),
  CHAOS_STRICT: z.enum(['0', '1']).optional(),
});

const FLAGS = new Set(['--long', '--strict']);

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): ChaosOptions {
  const unknown = argv.filter((a) => !FLAGS.has(a));
  if (unknown.length > 0)
    throw new Error(`npm run chaos: unknown argument ${unknown.join(' ')} (use --long, --strict)`);
  const parsed = envSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('CHAOS_') && v !== '')),
  );
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration: ${problems.join('; ')}`);
  }
  const long = argv.includes('--long');
  const chaosSeconds = parsed.data.CHAOS_SECONDS ?? (long ? LONG_SECONDS : SHORT_SECONDS);
  return {
    chaosSeconds,
    throughputSeconds: long ? 15 : 4,
    // A dropped webhook waits for the purchase workflow's 15 s Stripe poll; a paused project for its re-check.
    settleSeconds: 120,
    seed: parsed.data.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31),
    strict: argv.includes('--strict') || parsed.data.CHAOS_STRICT === '1',
    long,
  };
}

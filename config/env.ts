import { z } from 'zod';
import { LOG_LEVELS } from '../observability/logger';
import type { StripeEndpoint } from './stripe';

/**
 * Every setting the processes read, parsed once at start (DESIGN.md §8).
 * Empty strings count as unset so `FOO= npm start` behaves like no FOO at all.
 */
const optionalString = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());
const optionalUrl = (protocols: string[]) =>
  z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .refine((s) => protocols.some((p) => s.startsWith(p)), {
        message: `must start with ${protocols.join(' or ')}`,
      })
      .optional(),
  );

export const envSchema = z.object({
  PORT: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(0).max(65535).default(3000),
  ),
  HOST: z.preprocess((v) => (v === '' ? undefined : v), z.string().default('127.0.0.1')),
  DATABASE_URL: optionalUrl(['postgres://', 'postgresql://']),
  TEMPORAL_ADDRESS: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, { message: 'must be host:port' })
      .optional(),
  ),
  TEMPORAL_NAMESPACE: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).default('default')),
  TEMPORAL_CLI_PATH: optionalString,
  STRIPE_SECRET_KEY: optionalString,
  STRIPE_WEBHOOK_SECRET: optionalString,
  /** Where the `stripe` SDK sends its calls instead of api.stripe.com: a stand-in or a mock. */
  STRIPE_API_BASE: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' })
      .transform((s): StripeEndpoint => {
        const url = new URL(s);
        const protocol = url.protocol === 'https:' ? 'https' : 'http';
        return { host: url.hostname, port: Number(url.port || (protocol === 'https' ? 443 : 80)), protocol };
      })
      .optional(),
  ),
  SMTP_URL: optionalUrl(['smtp://', 'smtps://']),
  ADMIN_API_KEY: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
  ),
  /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>` (Prometheus: `authorization`). */
  METRICS_TOKEN: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
  ),
  /** The simulated task executor (the default executor): how long a task works, what share it uses. */
  EXECUTOR_TASK_MS: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(0).max(3_600_000).default(1500),
  ),
  EXECUTOR_USAGE_BP: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(0).max(10_000).default(10_000),
  ),
  /**
   * An agent runtime behind HTTP runs the tasks instead of the simulator (README "Agent runtime"):
   * the worker POSTs each task to `${EXECUTOR_URL}/tasks`.
   */
  EXECUTOR_URL: optionalUrl(['http://', 'https://']),
  /** The API's URL as the runtime reaches it, for its reports; default PUBLIC_URL. */
  EXECUTOR_CALLBACK_URL: optionalUrl(['http://', 'https://']),
  /** Signs each task's callback credential: the worker and the API must share it. */
  EXECUTOR_CALLBACK_SECRET: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().min(32, { message: 'must be at least 32 characters' }).optional(),
  ),
  /** A paused project re-checks the balance this often, even if no top-up signal arrives. */
  PROJECT_RECHECK_SECONDS: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(1).max(86_400).default(30),
  ),
  /** Earned credits become withdrawable this long after they were earned (DESIGN.md §11). */
  EARNINGS_CLEARING_SECONDS: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce
      .number()
      .int()
      .min(0)
      .max(366 * 86_400)
      .default(14 * 86_400),
  ),
  /** The Temporal Web UI, for the operator page's links to workflows (`npm start` knows its own). */
  TEMPORAL_UI_URL: optionalUrl(['http://', 'https://']),
  /** Where links this API hands out point (referral links); default: the API's own URL. */
  PUBLIC_URL: optionalUrl(['http://', 'https://']),
  DATA_DIR: z.preprocess((v) => (v === '' ? undefined : v), z.string().default('.data')),
  /** The lowest level logged (observability/logger.ts); `silent` logs nothing. */
  LOG_LEVEL: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  ),
});

export type Env = z.infer<typeof envSchema>;

/** The rules across variables: the HTTP executor cannot work half-configured, so say what is missing. */
const checkedEnvSchema = envSchema.superRefine((env, ctx) => {
  if (env.EXECUTOR_URL === undefined) return;
  if (env.EXECUTOR_CALLBACK_SECRET === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['EXECUTOR_CALLBACK_SECRET'],
      message: 'required with EXECUTOR_URL',
    });
  if (env.EXECUTOR_CALLBACK_URL === undefined && env.PUBLIC_URL === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['EXECUTOR_CALLBACK_URL'],
      message: 'required with EXECUTOR_URL (the API URL the runtime calls back; PUBLIC_URL when unset)',
    });
});

export class ConfigError extends Error {}

/** Parses the environment; the error message is one line naming each bad variable. */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = checkedEnvSchema.safeParse(source);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

/** For entry points: parse or print the one clear line and exit. */
export function loadEnvOrExit(source: NodeJS.ProcessEnv = process.env): Env {
  try {
    return parseEnv(source);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

import type { Env } from './env';

/** Which executor the worker runs tasks with, from the environment (README "Agent runtime"). */
export type ExecutorSettings =
  | { kind: 'simulator'; taskMs: number; usageBp: number }
  | { kind: 'http'; url: string; callbackUrl: string; secret: string };

/**
 * The HTTP executor when EXECUTOR_URL is set, else the simulator. The schema (config/env.ts)
 * already refused EXECUTOR_URL without its secret and callback URL; the checks here only narrow.
 */
export function executorSettings(env: Env): ExecutorSettings {
  if (env.EXECUTOR_URL === undefined)
    return { kind: 'simulator', taskMs: env.EXECUTOR_TASK_MS, usageBp: env.EXECUTOR_USAGE_BP };
  const callbackUrl = env.EXECUTOR_CALLBACK_URL ?? env.PUBLIC_URL;
  const secret = env.EXECUTOR_CALLBACK_SECRET;
  if (callbackUrl === undefined || secret === undefined)
    throw new Error('EXECUTOR_URL needs EXECUTOR_CALLBACK_SECRET and EXECUTOR_CALLBACK_URL (config/env.ts)');
  return { kind: 'http', url: env.EXECUTOR_URL, callbackUrl, secret };
}

import { DEFAULT_EARNING_SETTINGS } from '../app';
import { type Env, loadEnvOrExit } from '../config/env';
import { createLogger, type Logger } from '../observability/logger';
import { openRoot, type Root } from './root';

/**
 * The production entry points' root (`npm run api`, `npm run worker`): from the environment,
 * against external Postgres, Temporal and Stripe, which must all be configured; a missing one
 * stops the process with one line naming what is required.
 */
export async function openProductionRoot(
  entryPoint: 'api' | 'worker',
): Promise<{ env: Env; root: Root; logger: Logger }> {
  const env = loadEnvOrExit();
  if (!env.DATABASE_URL || !env.TEMPORAL_ADDRESS || !env.STRIPE_SECRET_KEY || !env.STRIPE_WEBHOOK_SECRET) {
    console.error(
      `invalid configuration: DATABASE_URL, TEMPORAL_ADDRESS, STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET: required for npm run ${entryPoint}`,
    );
    process.exit(1);
  }
  // JSON lines on stdout at LOG_LEVEL: what a log collector reads (README "Logs").
  const logger = createLogger({ level: env.LOG_LEVEL });
  const root = await openRoot({
    logger,
    databaseUrl: env.DATABASE_URL,
    smtpUrl: env.SMTP_URL,
    stripe: {
      secretKey: env.STRIPE_SECRET_KEY,
      webhookSecret: env.STRIPE_WEBHOOK_SECRET,
      endpoint: env.STRIPE_API_BASE,
    },
    temporal: { address: env.TEMPORAL_ADDRESS, namespace: env.TEMPORAL_NAMESPACE },
    settings: {
      projects: { recheckSeconds: env.PROJECT_RECHECK_SECONDS, tasksPerRun: 100 },
      earning: {
        ...DEFAULT_EARNING_SETTINGS,
        clearingSeconds: env.EARNINGS_CLEARING_SECONDS,
        publicUrl: env.PUBLIC_URL,
      },
    },
  });
  return { env, root, logger };
}

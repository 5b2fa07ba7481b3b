import '../config/runtime'; // first: stops a start on an unsupported Node.js with one line
import { simulatedExecutor } from '../activities/executor';
import { openRoot } from '../composition/root';
import { startWorker } from '../composition/worker';
import { loadEnvOrExit } from '../config/env';
import { ensureHoldSweeper } from '../workflows/starters';

/** Production entry point: runs the Temporal worker against external Postgres and Temporal. */
async function main(): Promise<void> {
  const env = loadEnvOrExit();
  if (!env.DATABASE_URL || !env.TEMPORAL_ADDRESS || !env.STRIPE_SECRET_KEY || !env.STRIPE_WEBHOOK_SECRET) {
    console.error(
      'invalid configuration: DATABASE_URL, TEMPORAL_ADDRESS, STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET: required for npm run worker',
    );
    process.exit(1);
  }
  const root = await openRoot({
    databaseUrl: env.DATABASE_URL,
    smtpUrl: env.SMTP_URL,
    stripe: {
      secretKey: env.STRIPE_SECRET_KEY,
      webhookSecret: env.STRIPE_WEBHOOK_SECRET,
      endpoint: env.STRIPE_API_BASE,
    },
    temporal: { address: env.TEMPORAL_ADDRESS, namespace: env.TEMPORAL_NAMESPACE },
  });
  const worker = await startWorker(root, {
    executor: simulatedExecutor({ taskMs: env.EXECUTOR_TASK_MS, usageBp: env.EXECUTOR_USAGE_BP }),
  });
  await ensureHoldSweeper(root.temporal);
  console.log(`worker polling task queue on ${env.TEMPORAL_ADDRESS}`);
  await worker.running; // resolves after SIGINT/SIGTERM (the SDK installs those handlers)
  await root.close();
}

void main();

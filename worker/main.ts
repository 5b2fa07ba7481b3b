import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities';
import { simulatedExecutor } from '../activities/executor';
import { loadEnvOrExit } from '../config/env';
import { openServices } from '../config/services';
import { createTopUpNotifier } from '../config/top-up';
import { createWorker, ensureHoldSweeper } from './worker';

/** Production entry point: runs the Temporal worker against external Postgres and Temporal. */
async function main(): Promise<void> {
  const env = loadEnvOrExit();
  if (!env.DATABASE_URL || !env.TEMPORAL_ADDRESS || !env.STRIPE_SECRET_KEY || !env.STRIPE_WEBHOOK_SECRET) {
    console.error(
      'invalid configuration: DATABASE_URL, TEMPORAL_ADDRESS, STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET: required for npm run worker',
    );
    process.exit(1);
  }
  const stripe = { secretKey: env.STRIPE_SECRET_KEY, webhookSecret: env.STRIPE_WEBHOOK_SECRET };
  const services = await openServices({ databaseUrl: env.DATABASE_URL, smtpUrl: env.SMTP_URL, stripe });
  const clientConnection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection: clientConnection, namespace: env.TEMPORAL_NAMESPACE });
  const announceTopUp = createTopUpNotifier({ ...services, temporal });
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  const worker = await createWorker({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    activities: createActivities({
      ...services,
      announceTopUp,
      executor: simulatedExecutor({ taskMs: env.EXECUTOR_TASK_MS, usageBp: env.EXECUTOR_USAGE_BP }),
    }),
  });
  await ensureHoldSweeper(temporal);
  console.log(`worker polling task queue on ${env.TEMPORAL_ADDRESS}`);
  await worker.run(); // resolves after SIGINT/SIGTERM (the SDK installs those handlers)
  await clientConnection.close();
  await connection.close();
  await services.close();
}

void main();

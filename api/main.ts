import { Client, Connection } from '@temporalio/client';
import { loadEnvOrExit } from '../config/env';
import { openServices } from '../config/services';
import { createTopUpNotifier } from '../config/top-up';
import { migrate } from '../db/migrate';
import { createApp } from './app';
import { listen } from './server';

/** Production entry point: the API against external Postgres and Temporal. */
async function main(): Promise<void> {
  const env = loadEnvOrExit();
  if (!env.DATABASE_URL || !env.TEMPORAL_ADDRESS || !env.STRIPE_SECRET_KEY || !env.STRIPE_WEBHOOK_SECRET) {
    console.error(
      'invalid configuration: DATABASE_URL, TEMPORAL_ADDRESS, STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET: required for npm run api',
    );
    process.exit(1);
  }
  const stripe = { secretKey: env.STRIPE_SECRET_KEY, webhookSecret: env.STRIPE_WEBHOOK_SECRET };
  const services = await openServices({ databaseUrl: env.DATABASE_URL, smtpUrl: env.SMTP_URL, stripe });
  await migrate(services.sql);
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  const app = createApp({
    ...services,
    temporal,
    adminApiKey: env.ADMIN_API_KEY,
    announceTopUp: createTopUpNotifier({ ...services, temporal }),
    projects: { recheckSeconds: env.PROJECT_RECHECK_SECONDS, tasksPerRun: 100 },
  });
  const server = await listen(app, env.PORT, env.HOST);
  console.log(`API listening on ${server.url}`);
  const shutdown = async () => {
    await server.close();
    await connection.close();
    await services.close();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

void main();

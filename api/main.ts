import '../config/runtime'; // first: stops a start on an unsupported Node.js with one line
import { openRoot } from '../composition/root';
import { loadEnvOrExit } from '../config/env';
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
  const root = await openRoot({
    databaseUrl: env.DATABASE_URL,
    smtpUrl: env.SMTP_URL,
    stripe: {
      secretKey: env.STRIPE_SECRET_KEY,
      webhookSecret: env.STRIPE_WEBHOOK_SECRET,
      endpoint: env.STRIPE_API_BASE,
    },
    temporal: { address: env.TEMPORAL_ADDRESS, namespace: env.TEMPORAL_NAMESPACE },
    settings: { projects: { recheckSeconds: env.PROJECT_RECHECK_SECONDS, tasksPerRun: 100 } },
  });
  await migrate(root.services.sql);
  const app = createApp({
    ...root.apiDeps({ adminApiKey: env.ADMIN_API_KEY }),
    metricsToken: env.METRICS_TOKEN,
  });
  const server = await listen(app, env.PORT, env.HOST);
  console.log(`API listening on ${server.url}`);
  const shutdown = async () => {
    await server.close();
    await root.close();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

void main();

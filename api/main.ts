import { Client, Connection } from '@temporalio/client';
import { loadEnvOrExit } from '../config/env';
import { openServices } from '../config/services';
import { migrate } from '../db/migrate';
import { createApp } from './app';
import { listen } from './server';

/** Production entry point: the API against external Postgres and Temporal. */
async function main(): Promise<void> {
  const env = loadEnvOrExit();
  if (!env.DATABASE_URL || !env.TEMPORAL_ADDRESS) {
    console.error('invalid configuration: DATABASE_URL and TEMPORAL_ADDRESS: required for npm run api');
    process.exit(1);
  }
  const services = await openServices({ databaseUrl: env.DATABASE_URL, smtpUrl: env.SMTP_URL });
  await migrate(services.sql);
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  const app = createApp({ ...services, temporal, adminApiKey: env.ADMIN_API_KEY });
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

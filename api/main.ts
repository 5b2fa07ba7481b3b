import '../config/runtime'; // first: stops a start on an unsupported Node.js with one line
import { openProductionRoot } from '../composition/production';
import { migrate } from '../db/migrate';
import { createApp } from './app';
import { listen } from './server';

/** Production entry point: the API against external Postgres and Temporal. */
async function main(): Promise<void> {
  const { env, root, logger } = await openProductionRoot('api');
  await migrate(root.services.sql);
  const app = createApp({
    ...root.apiDeps({
      adminApiKey: env.ADMIN_API_KEY,
      temporalUiUrl: env.TEMPORAL_UI_URL,
      executorCallbackSecret: env.EXECUTOR_CALLBACK_SECRET,
    }),
    metricsToken: env.METRICS_TOKEN,
  });
  const server = await listen(app, env.PORT, env.HOST);
  logger.info({ url: server.url }, `API listening on ${server.url}`);
  const shutdown = async () => {
    await server.close();
    await root.close();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

void main();

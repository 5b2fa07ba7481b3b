import { Client, Connection } from '@temporalio/client';
import { loadEnvOrExit } from '../config/env';
import { Ledger } from '../db/ledger';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { createApp } from './app';
import { Metrics } from './metrics';
import { listen } from './server';

/** Production entry point: the API against external Postgres and Temporal. */
async function main(): Promise<void> {
  const env = loadEnvOrExit();
  if (!env.DATABASE_URL || !env.TEMPORAL_ADDRESS) {
    console.error('invalid configuration: DATABASE_URL and TEMPORAL_ADDRESS: required for npm run api');
    process.exit(1);
  }
  const sql = createPool(env.DATABASE_URL);
  await migrate(sql);
  const metrics = new Metrics();
  const ledger = await Ledger.open(sql, metrics.ledgerObserver);
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  const app = createApp({ sql, ledger, temporal, metrics, adminApiKey: env.ADMIN_API_KEY });
  const server = await listen(app, env.PORT, env.HOST);
  console.log(`API listening on ${server.url}`);
  const shutdown = async () => {
    await server.close();
    await connection.close();
    await sql.end();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

void main();

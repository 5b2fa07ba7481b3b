import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities';
import { loadEnvOrExit } from '../config/env';
import { Ledger } from '../db/ledger';
import { createPool } from '../db/pool';
import { createWorker, ensureHoldSweeper } from './worker';

/** Production entry point: runs the Temporal worker against external Postgres and Temporal. */
async function main(): Promise<void> {
  const env = loadEnvOrExit();
  if (!env.DATABASE_URL || !env.TEMPORAL_ADDRESS) {
    console.error('invalid configuration: DATABASE_URL and TEMPORAL_ADDRESS: required for npm run worker');
    process.exit(1);
  }
  const sql = createPool(env.DATABASE_URL);
  const ledger = await Ledger.open(sql);
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  const worker = await createWorker({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    activities: createActivities({ ledger }),
  });
  const clientConnection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  await ensureHoldSweeper(new Client({ connection: clientConnection, namespace: env.TEMPORAL_NAMESPACE }));
  console.log(`worker polling task queue on ${env.TEMPORAL_ADDRESS}`);
  await worker.run(); // resolves after SIGINT/SIGTERM (the SDK installs those handlers)
  await clientConnection.close();
  await connection.close();
  await sql.end();
}

void main();

import '../config/runtime'; // first: stops a start on an unsupported Node.js with one line
import { buildExecutor } from '../composition/executor';
import { openProductionRoot } from '../composition/production';
import { startWorker } from '../composition/worker';
import { executorSettings } from '../config/executor';
import { ensureHoldSweeper } from '../workflows/starters';

/** Production entry point: runs the Temporal worker against external Postgres and Temporal. */
async function main(): Promise<void> {
  const { env, root, logger } = await openProductionRoot('worker');
  // The agent runtime behind EXECUTOR_URL when set, else the simulator (README "Agent runtime").
  const executor = executorSettings(env);
  const worker = await startWorker(root, { executor: buildExecutor(executor, root.services.sql) });
  await ensureHoldSweeper(root.temporal);
  logger.info(
    { temporal: env.TEMPORAL_ADDRESS, executor: executor.kind === 'http' ? executor.url : 'simulator' },
    `worker polling task queue on ${env.TEMPORAL_ADDRESS}`,
  );
  await worker.running; // resolves after SIGINT/SIGTERM (the SDK installs those handlers)
  await root.close();
}

void main();

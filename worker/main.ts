import '../config/runtime'; // first: stops a start on an unsupported Node.js with one line
import { simulatedExecutor } from '../activities/executor';
import { openProductionRoot } from '../composition/production';
import { startWorker } from '../composition/worker';
import { ensureHoldSweeper } from '../workflows/starters';

/** Production entry point: runs the Temporal worker against external Postgres and Temporal. */
async function main(): Promise<void> {
  const { env, root, logger } = await openProductionRoot('worker');
  const worker = await startWorker(root, {
    executor: simulatedExecutor({ taskMs: env.EXECUTOR_TASK_MS, usageBp: env.EXECUTOR_USAGE_BP }),
  });
  await ensureHoldSweeper(root.temporal);
  logger.info({ temporal: env.TEMPORAL_ADDRESS }, `worker polling task queue on ${env.TEMPORAL_ADDRESS}`);
  await worker.running; // resolves after SIGINT/SIGTERM (the SDK installs those handlers)
  await root.close();
}

void main();

/**
 * A worker in its own process, so tests can SIGKILL it mid-workflow (a crash, not a graceful
 * shutdown). Configured by environment variables set by startWorkerProcess().
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { simulatedExecutor } from '../../activities/executor';
import { openRoot } from '../../composition/root';
import { startWorker } from '../../composition/worker';

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = process.env;
  const root = await openRoot({
    databaseUrl: env.DATABASE_URL!,
    stripe: {
      secretKey: 'sk_test_local_stand_in',
      webhookSecret: env.STRIPE_WEBHOOK_SECRET!,
      endpoint: { host: env.STRIPE_HOST!, port: Number(env.STRIPE_PORT), protocol: 'http' },
    },
    temporal: { address: env.TEMPORAL_ADDRESS! },
    taskQueue: env.TEST_TASK_QUEUE!,
  });
  const { running } = await startWorker(root, {
    executor: simulatedExecutor({ taskMs: Number(env.EXECUTOR_TASK_MS ?? 50), usageBp: 10_000 }),
    workflowBundle: { codePath: env.WORKFLOW_BUNDLE! },
  });
  console.log('WORKER_READY');
  await running;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

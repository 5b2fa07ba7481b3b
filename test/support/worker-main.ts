/**
 * A worker in its own process, so tests can SIGKILL it mid-workflow (a crash, not a graceful
 * shutdown). Configured by environment variables set by startWorkerProcess().
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { simulatedExecutor } from '../../activities/executor';
import { openServices } from '../../config/services';
import { createTopUpNotifier } from '../../config/top-up';
import { createWorker } from '../../worker/worker';

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = process.env;
  const services = await openServices({
    databaseUrl: env.DATABASE_URL!,
    stripe: {
      secretKey: 'sk_test_local_stand_in',
      webhookSecret: env.STRIPE_WEBHOOK_SECRET!,
      endpoint: { host: env.STRIPE_HOST!, port: Number(env.STRIPE_PORT), protocol: 'http' },
    },
  });
  const clientConnection = await Connection.connect({ address: env.TEMPORAL_ADDRESS! });
  const temporal = new Client({ connection: clientConnection, namespace: 'default' });
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS! });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue: env.TEST_TASK_QUEUE!,
    activities: createActivities({
      ...services,
      announceTopUp: createTopUpNotifier({ ...services, temporal }),
      executor: simulatedExecutor({ taskMs: Number(env.EXECUTOR_TASK_MS ?? 50), usageBp: 10_000 }),
    }),
    workflowBundle: { codePath: env.WORKFLOW_BUNDLE! },
  });
  const running = worker.run();
  console.log('WORKER_READY');
  await running;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

import { type NativeConnection, Worker } from '@temporalio/worker';
import type { Activities } from '../activities';
import { TASK_QUEUE } from '../workflows/messages';

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  activities: Activities;
  /** A pre-built bundle (tests build it once); otherwise the workflows are bundled at start. */
  workflowBundle?: { codePath: string };
  /** Tests give each worker its own queue. */
  taskQueue?: string;
}

export function workflowsPath(): string {
  return require.resolve('../workflows');
}

export async function createWorker(options: WorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    activities: options.activities,
    // Heartbeats carry cancellation to a running task: flush them often so a cancelled project
    // stops its task within about half a second, not after the default throttle (80% of the timeout).
    maxHeartbeatThrottleInterval: '500 milliseconds',
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: workflowsPath() }),
  });
}

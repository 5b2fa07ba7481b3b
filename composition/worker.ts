import { NativeConnection, type Worker } from '@temporalio/worker';
import type { TaskExecutor } from '../activities/executor';
import { createWorker, installRuntimeLogger } from '../worker/worker';
import type { Root } from './root';

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has stopped (after `stop()`, or SIGINT/SIGTERM in a main). */
  running: Promise<void>;
  stop(): Promise<void>;
}

/**
 * A Temporal worker on the root's task queue, running the root's activities with `executor`.
 * Apart from root.ts so the API process never loads the worker's native runtime. A pre-built
 * workflow bundle saves webpack at start (tests build it once per file). The worker logs through
 * the root's logger.
 */
export async function startWorker(
  root: Root,
  options: { executor: TaskExecutor; workflowBundle?: { codePath: string } },
): Promise<RunningWorker> {
  installRuntimeLogger(root.logger); // unless this process set up its runtime already
  const connection = await NativeConnection.connect({ address: root.temporalAddress });
  const worker = await createWorker({
    connection,
    namespace: root.namespace,
    taskQueue: root.taskQueue,
    activities: root.activities(options.executor),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : {}),
  });
  const running = worker.run().finally(() => connection.close());
  return {
    worker,
    running,
    stop: async () => {
      // A main's SIGINT/SIGTERM handler (the SDK's own) may have begun the shutdown already.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}

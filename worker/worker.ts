import { makeTelemetryFilterString, type NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Activities } from '../activities';
import { type Logger, temporalLevel, temporalLogger } from '../observability/logger';
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

/**
 * Sends the Temporal runtime's logs to `logger`: the SDK's own lines, activities' and workflows'
 * `log` (a workflow's reach the runtime logger through the SDK's sink, and are not repeated on
 * replay) and the native core's lines (forwarded, filtered at the same level but at most INFO
 * unless LOG_LEVEL=trace; other crates at WARN). The runtime is one per process and is set up before its first worker or connection:
 * false if one was already there (a test's own quiet one), which then stays.
 */
export function installRuntimeLogger(logger: Logger): boolean {
  if (Runtime._instance !== undefined) return false;
  const level = temporalLevel(logger.level);
  // The core's DEBUG is several lines per workflow task: LOG_LEVEL=debug gets its INFO, trace all of it.
  const core = level === 'DEBUG' ? 'INFO' : level;
  Runtime.install({
    logger: temporalLogger(logger),
    telemetryOptions: {
      logging: {
        filter: makeTelemetryFilterString({ core, other: level === 'ERROR' ? 'ERROR' : 'WARN' }),
        forward: {},
      },
    },
  });
  return true;
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

import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  bundleWorkflowCode,
  DefaultLogger,
  type LogLevel,
  type LogMetadata,
  Runtime,
  type Worker,
} from '@temporalio/worker';
import { isSimulatedTaskFailure, type SimulatorOptions, simulatedExecutor } from '../../activities/executor';
import { startWorker } from '../../composition/worker';
import { workflowsPath } from '../../worker/worker';
import type { TestApp } from './app';

let bundlePath: Promise<string> | undefined;

/** WARN and above, except the task failures the simulator raises on purpose ("[fail]" titles). */
class TestWorkerLogger extends DefaultLogger {
  override log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (!isSimulatedTaskFailure(meta?.error)) super.log(level, message, meta);
  }
}

/** Workers log at WARN in tests; the runtime is per process, so only the first file installs it. */
function quietRuntime(): void {
  try {
    Runtime.install({ logger: new TestWorkerLogger('WARN') });
  } catch {
    // already installed by an earlier test file in this process
  }
}

/** Bundles the workflows once per test file (webpack is the slow part of starting a worker). */
export function workflowBundle(): Promise<string> {
  bundlePath ??= (async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: quietLogger });
    const file = path.join(os.tmpdir(), `workflow-bundle-${process.pid}-${randomUUID()}.js`);
    await writeFile(file, code);
    return file;
  })();
  return bundlePath;
}

const quietLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message: string) => console.error(message),
};

export interface TestWorker {
  worker: Worker;
  taskQueue: string;
  stop(): Promise<void>;
}

/** A real worker on the run's Temporal server, on the test app's own task queue. */
export async function startTestWorker(
  app: TestApp,
  executor: SimulatorOptions = { taskMs: 50, usageBp: 10_000 },
): Promise<TestWorker> {
  quietRuntime();
  const { worker, stop } = await startWorker(app.root, {
    executor: simulatedExecutor(executor),
    workflowBundle: { codePath: await workflowBundle() },
  });
  return { worker, taskQueue: app.taskQueue, stop };
}

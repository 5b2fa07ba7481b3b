import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, type Worker } from '@temporalio/worker';
import { type SimulatorOptions, simulatedExecutor } from '../../activities/executor';
import { startWorker } from '../../composition/worker';
import { workflowsPath } from '../../worker/worker';
import type { TestApp } from './app';

let bundlePath: Promise<string> | undefined;

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
  // The worker's runtime logs through app.root.logger: the file's buffer (testLogger in ./app),
  // printed only if a test fails. The simulator's deliberate "[fail]" task failures land there too.
  const { worker, stop } = await startWorker(app.root, {
    executor: simulatedExecutor(executor),
    workflowBundle: { codePath: await workflowBundle() },
  });
  return { worker, taskQueue: app.taskQueue, stop };
}

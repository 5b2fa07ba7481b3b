import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { TestApp } from './app';
import { workflowBundle } from './worker';

const ROOT = path.resolve(__dirname, '../..');

export interface WorkerProcess {
  child: ChildProcess;
  /** SIGKILL: the worker dies mid-whatever, as in a crash or an OOM kill. */
  kill(): Promise<void>;
}

/** The test app's worker, in a child process that a test can kill. */
export async function startWorkerProcess(
  app: TestApp,
  extraEnv: Record<string, string> = {},
): Promise<WorkerProcess> {
  // `node --import tsx`, not the tsx CLI: the CLI runs the script in a grandchild that SIGKILL would miss.
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/worker-main.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      TEST_TASK_QUEUE: app.taskQueue,
      STRIPE_HOST: app.standIn.host,
      STRIPE_PORT: String(app.standIn.port),
      STRIPE_WEBHOOK_SECRET: app.services.stripeWebhookSecret,
      WORKFLOW_BUNDLE: await workflowBundle(),
      ...extraEnv,
    },
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker process did not start in 60 s')), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('WORKER_READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`worker process exited with ${code}`)));
  });
  return {
    child,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

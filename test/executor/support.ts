import { buildExecutor } from '../../composition/executor';
import { type RunningWorker, startWorker } from '../../composition/worker';
import { projectsApi } from '../projects/support';
import { startTestApp, type TestApp } from '../support/app';
import { workflowBundle } from '../support/worker';
import { type AgentRuntime, startAgentRuntime } from './agent-runtime';

/** The callback secret the test API and worker share (EXECUTOR_CALLBACK_SECRET). */
export const SECRET = 'test-executor-callback-secret-0123456789';

export interface ExecutorStack {
  app: TestApp;
  runtime: AgentRuntime;
  worker: RunningWorker;
  /** The projects API of `app`. */
  p: ReturnType<typeof projectsApi>;
  close(): Promise<void>;
}

/**
 * The API with callbacks enabled, the test agent runtime, and a real worker whose tasks go to
 * that runtime over HTTP (the HTTP executor), on the run's Temporal and Postgres.
 */
export async function startExecutorStack(): Promise<ExecutorStack> {
  const app = await startTestApp({ executorCallbackSecret: SECRET });
  const runtime = await startAgentRuntime();
  const worker = await startWorker(app.root, {
    executor: buildExecutor(
      { kind: 'http', url: runtime.url, callbackUrl: app.url, secret: SECRET },
      app.sql,
    ),
    workflowBundle: { codePath: await workflowBundle() },
  });
  return {
    app,
    runtime,
    worker,
    p: projectsApi(app),
    close: async () => {
      await worker.stop();
      await runtime.stop();
      await app.close();
    },
  };
}

/**
 * A test file's stack: started before its tests (`ready` receives it), the runtime's work
 * awaited after each test (a script's failed expectation fails that test), closed after all.
 */
export function useExecutorStack(ready: (stack: ExecutorStack) => void): void {
  let stack: ExecutorStack | undefined;
  beforeAll(async () => {
    stack = await startExecutorStack();
    ready(stack);
  });
  afterEach(() => stack?.runtime.idle());
  afterAll(() => stack?.close());
}

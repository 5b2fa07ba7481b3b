import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { findTemporalTestServer } from '../../dev/temporal-test-server';
import { workflowsPath } from '../../worker/worker';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

/*
 * Fast workflow tests: the time-skipping test server (timers fire as soon as nothing else can
 * happen) and stubbed activities, so a workflow's logic is tested in milliseconds; the
 * real-stack tests in test/projects and test/purchases prove the wiring.
 */

/** Workers and replayers log at WARN; core's own lines only at ERROR (its capability WARNs are noise here). */
export function quietRuntime(): void {
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
    });
  } catch {
    // already installed by an earlier test file in this process
  }
}

export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const executable = await findTemporalTestServer();
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable } });
  // The project workflow upserts the custom search attributes; the test server refuses
  // attributes it does not know (the workflow task would fail for ever), so register them.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      CUSTOM_SEARCH_ATTRIBUTES.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!]),
    ),
  });
  return env;
}

let bundle: Promise<string> | undefined;

/** The workflows bundled once per file (webpack is the slow part of a worker). */
export function workflowBundle(): Promise<string> {
  bundle ??= (async () => {
    const silent = () => {};
    const { code } = await bundleWorkflowCode({
      workflowsPath: workflowsPath(),
      logger: { log: silent, trace: silent, debug: silent, info: silent, warn: silent, error: silent },
    });
    const file = path.join(os.tmpdir(), `fast-workflow-bundle-${process.pid}-${randomUUID()}.js`);
    await writeFile(file, code);
    return file;
  })();
  return bundle;
}

type AnyActivity = (...args: never[]) => Promise<unknown>;

export interface StubWorker<A extends Record<string, AnyActivity>> {
  taskQueue: string;
  /** The stubs the next workflow runs against; an activity without one fails for good. */
  use(stubs: Partial<A>): void;
  stop(): Promise<void>;
}

/**
 * One worker per test file (starting a worker is most of a fast test's time) on its own task
 * queue; each test swaps in its own stubs with `use`. `names` are the activities it registers.
 */
export async function startStubWorker<A extends Record<string, AnyActivity>>(
  env: TestWorkflowEnvironment,
  names: readonly (keyof A & string)[],
): Promise<StubWorker<A>> {
  let current: Partial<A> = {};
  const dispatch =
    (name: keyof A & string) =>
    async (...args: unknown[]) => {
      const stub = current[name] as ((...a: unknown[]) => Promise<unknown>) | undefined;
      if (!stub) throw ApplicationFailure.nonRetryable(`activity ${name} has no stub in this test`);
      return stub(...args);
    };
  const taskQueue = `fast-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    activities: Object.fromEntries(names.map((name) => [name, dispatch(name)])),
    workflowBundle: { codePath: await workflowBundle() },
    // Cancellation reaches a running activity with its next heartbeat flush: flush at once.
    maxHeartbeatThrottleInterval: '50 milliseconds',
  });
  const running = worker.run();
  return {
    taskQueue,
    use: (stubs) => {
      current = stubs;
    },
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}

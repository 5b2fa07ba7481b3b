import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { Activities } from '../../activities';
import { findTemporalTestServer } from '../../dev/temporal-test-server';
import { workflowsPath } from '../../worker/worker';

/**
 * Fast workflow tests: the time-skipping test server (timers fire as soon as nothing else can
 * happen) and stubbed activities, so a workflow's logic is tested in milliseconds; the
 * real-stack tests in test/projects and test/purchases prove the wiring.
 */
export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed by an earlier test file in this process
  }
  const executable = await findTemporalTestServer();
  return TestWorkflowEnvironment.createTimeSkipping({ server: { executable } });
}

let bundle: Promise<string> | undefined;

/** The workflows bundled once per file (webpack is the slow part of a worker). */
function workflowBundle(): Promise<string> {
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

/** Stubs for the activities a test needs; calling any other one fails the test loudly. */
export type ActivityStubs = Partial<Activities>;

/** Runs `body` with a worker on a fresh task queue that serves `stubs` as the activities. */
export async function withStubWorker<T>(
  env: TestWorkflowEnvironment,
  stubs: ActivityStubs,
  body: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `fast-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    activities: stubs,
    workflowBundle: { codePath: await workflowBundle() },
  });
  return worker.runUntil(body(taskQueue));
}

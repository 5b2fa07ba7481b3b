import { setTimeout as delay } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { planFromPrompt, type TaskSize } from '../domain';

export interface TaskToRun {
  projectId: string;
  position: number;
  title: string;
  size: TaskSize;
  /** What was reserved; a task reports what it actually used, which is settled up to this. */
  estimate: number;
}

export interface TaskRunContext {
  heartbeat(): void;
  /** Aborted when the project is cancelled or the activity times out. */
  signal: AbortSignal;
  /** Which attempt this is (1 = the first): after a timeout or a crash the same task comes again. */
  attempt: number;
  /**
   * The attempt's Temporal task token, for an executor that finishes the task later, outside this
   * activity (asynchronous completion: activities/http-executor.ts). The simulator ignores it.
   */
  taskToken: Uint8Array;
  /** How long the attempt may go without a heartbeat before it is abandoned and retried. */
  heartbeatTimeoutMs: number | undefined;
  /** When the attempt times out (epoch ms), reported or not. */
  deadlineMs: number;
  /** The details of the last heartbeat an earlier attempt recorded; undefined on a first attempt. */
  lastHeartbeat: unknown;
}

/**
 * What plans and runs a project's tasks. The default is a deterministic simulator; an agent
 * runtime behind HTTP (activities/http-executor.ts) implements the same two methods, its `run`
 * ending the activity with CompleteAsyncError and the result arriving later through the API.
 */
export interface TaskExecutor {
  plan(input: { projectId: string; prompt: string }): Promise<{ title: string; size: TaskSize }[]>;
  run(task: TaskToRun, context: TaskRunContext): Promise<{ output: string; usedCredits: number }>;
}

/** A task fails for good (not retried) when the executor says so. */
export class TaskFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskFailed';
  }
}

export interface SimulatorOptions {
  /** How long each task "works". */
  taskMs: number;
  /** Share of the estimate a task reports as used, in basis points (10,000 = all of it). */
  usageBp: number;
}

/** A task title containing this fails for good in the simulator (README: failure handling). */
export const SIMULATED_FAILURE_MARKER = '[fail]';

/**
 * True for the failure the simulator raises on purpose, as the worker sees it (executeTask
 * turns TaskFailed into a non-retryable ApplicationFailure of that type). Test workers leave it
 * out of their logs: it is the expected outcome there, and a stack trace in CI would hide real ones.
 */
export function isSimulatedTaskFailure(error: unknown): boolean {
  return (
    error instanceof ApplicationFailure &&
    error.type === 'TaskFailed' &&
    error.message.includes(SIMULATED_FAILURE_MARKER)
  );
}

/**
 * The simulator: each task works for `taskMs` (heartbeating), then reports `usageBp` of its
 * estimate as used. A title containing "[fail]" fails for good, so tests and demos can see it.
 */
export function simulatedExecutor(options: SimulatorOptions): TaskExecutor {
  return {
    plan: async ({ prompt }) => planFromPrompt(prompt),
    async run(task, context) {
      if (task.title.includes(SIMULATED_FAILURE_MARKER))
        throw new TaskFailed(`task ${task.position + 1} "${task.title}" failed`);
      const step = 100;
      for (let spent = 0; spent < options.taskMs; spent += step) {
        context.heartbeat();
        await delay(Math.min(step, options.taskMs - spent), undefined, { signal: context.signal });
      }
      return {
        output: `simulated result of "${task.title}"`,
        usedCredits: Math.floor((task.estimate * options.usageBp) / 10_000),
      };
    },
  };
}

import { CompleteAsyncError } from '@temporalio/activity';
import { heartbeatDetails, issueCallback } from '../app/executor-callbacks';
import { planFromPrompt } from '../domain';
import { type TaskExecutor, TaskFailed, type TaskRunContext, type TaskToRun } from './executor';

export interface HttpExecutorOptions {
  /** The agent runtime's base URL (EXECUTOR_URL): tasks are POSTed to `${url}/tasks`. */
  url: string;
  /** The API's base URL as the runtime reaches it (EXECUTOR_CALLBACK_URL): reports go there. */
  callbackUrl: string;
  /** Signs each attempt's callback (EXECUTOR_CALLBACK_SECRET); the API checks with the same one. */
  secret: string;
  /** The task's agent, as the saved task list recorded it (named by the runner or chosen by the planner). */
  agentOf(projectId: string, position: number): Promise<string | null>;
  /**
   * How long the runtime has to accept a task before the attempt counts as failed (default 10 s,
   * and never more than half the heartbeat timeout, so an accepted task still has time for its
   * first heartbeat: the timeout runs from the attempt's start).
   */
  acceptTimeoutMs?: number;
}

/** What the worker sends the runtime for each attempt (README "Agent runtime"). */
export interface TaskRequest {
  projectId: string;
  /** 0-based; task 1 is position 0. */
  position: number;
  title: string;
  size: TaskToRun['size'];
  agentId: string | null;
  /** The credits reserved for the task: the most it is charged, whatever it reports. */
  estimate: number;
  attempt: number;
  /** The runtime heartbeats more often than this, or the attempt is abandoned and the task re-sent. */
  heartbeatTimeoutSeconds: number | null;
  /** The attempt ends then, reported or not (ISO 8601). */
  deadline: string;
  /** What the last heartbeat of an earlier attempt left: resume from its checkpoint. */
  lastHeartbeat: { progress?: number | undefined; checkpoint?: string | undefined } | null;
  callback: { token: string; heartbeatUrl: string; completeUrl: string; failUrl: string };
}

/**
 * A 4xx is the runtime refusing this task (it would refuse every attempt), so the task fails
 * for good; a timeout, 408, 429, 5xx or no answer is a failed attempt, retried by Temporal.
 */
function refusesForGood(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/**
 * The start of a refusal's body, for the project's failureReason: no control characters in a
 * row, and no half of a surrogate pair that the cut may leave (with u, \p{Cs} matches lone ones
 * only). A body that cannot be read (the acceptance timeout ran out meanwhile) says nothing.
 */
async function answerText(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  return text.slice(0, 300).replace(/[\p{Cc}\p{Cs}]/gu, ' ');
}

/**
 * The executor of an agent runtime behind HTTP. `run` sends the task with a callback for this
 * attempt and ends the activity with CompleteAsyncError: the runtime reports its heartbeats and
 * result to the API (app/executor-callbacks.ts), which passes them to Temporal, so a task may
 * work for hours without holding a worker slot. A runtime that dies stops heartbeating: Temporal
 * abandons the attempt after the heartbeat timeout and retries it, sending the task again.
 * Planning stays the built-in planner's (deterministic, priced by the rate card).
 */
export function httpExecutor(options: HttpExecutorOptions): TaskExecutor {
  const tasksUrl = `${options.url.replace(/\/+$/, '')}/tasks`;
  const callbackBase = `${options.callbackUrl.replace(/\/+$/, '')}/v1/executor/tasks`;

  async function request(task: TaskToRun, context: TaskRunContext): Promise<TaskRequest> {
    const callback = issueCallback(options.secret, context.taskToken);
    const base = `${callbackBase}/${callback.id}`;
    // Details are ours (the API recorded them), but from an older version perhaps: parsed, not trusted.
    const last = heartbeatDetails.safeParse(context.lastHeartbeat);
    return {
      projectId: task.projectId,
      position: task.position,
      title: task.title,
      size: task.size,
      agentId: await options.agentOf(task.projectId, task.position),
      estimate: task.estimate,
      attempt: context.attempt,
      heartbeatTimeoutSeconds:
        context.heartbeatTimeoutMs === undefined ? null : context.heartbeatTimeoutMs / 1000,
      deadline: new Date(context.deadlineMs).toISOString(),
      lastHeartbeat: last.success ? last.data : null,
      callback: {
        token: callback.token,
        heartbeatUrl: `${base}/heartbeat`,
        completeUrl: `${base}/complete`,
        failUrl: `${base}/fail`,
      },
    };
  }

  return {
    plan: async ({ prompt }) => planFromPrompt(prompt),
    async run(task, context) {
      const what = `task ${task.position + 1} "${task.title}"`;
      const notTaken = (reason: string) =>
        new Error(`the agent runtime did not take ${what} (attempt ${context.attempt}): ${reason}`);
      const acceptMs = Math.min(
        options.acceptTimeoutMs ?? 10_000,
        (context.heartbeatTimeoutMs ?? Infinity) / 2,
      );
      let res: Response;
      try {
        res = await fetch(tasksUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(await request(task, context)),
          signal: AbortSignal.any([context.signal, AbortSignal.timeout(acceptMs)]),
        });
      } catch (error) {
        throw notTaken(error instanceof Error ? error.message : String(error));
      }
      if (refusesForGood(res.status))
        throw new TaskFailed(
          `the agent runtime refused ${what}: ${res.status} ${await answerText(res)}`.trim(),
        );
      // The body of any other answer is ignored: not read, however large.
      await res.body?.cancel().catch(() => {});
      if (!res.ok) throw notTaken(String(res.status));
      // Accepted: the result comes through the callback (Temporal's asynchronous completion).
      throw new CompleteAsyncError();
    },
  };
}

import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { type HttpResult, http } from '../support/app';

/**
 * A small agent runtime for the tests, written as a third party would from the README's
 * contract ("Agent runtime"): it parses each task with its own schema (so a change to what the
 * worker sends shows here), answers 202, and then does whatever the test's script says with the
 * task's callback. Reports go through the test HTTP client, so every answer is also checked
 * against the OpenAPI document.
 */
const taskSchema = z
  .object({
    projectId: z.uuid(),
    position: z.number().int().min(0),
    title: z.string(),
    size: z.enum(['small', 'medium', 'large']),
    agentId: z.string().nullable(),
    estimate: z.number().int().min(0),
    attempt: z.number().int().min(1),
    heartbeatTimeoutSeconds: z.number().positive().nullable(),
    deadline: z.iso.datetime(),
    lastHeartbeat: z
      .object({ progress: z.number().optional(), checkpoint: z.string().optional() })
      .nullable(),
    callback: z.object({
      token: z.string().min(1),
      heartbeatUrl: z.url(),
      completeUrl: z.url(),
      failUrl: z.url(),
    }),
  })
  .strict();
export type RuntimeTask = z.infer<typeof taskSchema>;

type Answer = HttpResult<Record<string, unknown>>;

/** What a script does with one task: report through its callback, with its token or another. */
export interface Callback {
  heartbeat(body?: unknown, token?: string | null): Promise<Answer>;
  complete(body: unknown, token?: string | null): Promise<Answer>;
  fail(body: unknown, token?: string | null): Promise<Answer>;
}

/** How the runtime answers POST /tasks, and what it then does with the task (not awaited by the answer). */
export type Script = (
  task: RuntimeTask,
  callback: Callback,
) => { status?: number; work?: () => Promise<void> };

export interface AgentRuntime {
  url: string;
  /** Every task received, in order (attempts of the same task included). */
  tasks: RuntimeTask[];
  /** The script for the tasks that come next. */
  use(script: Script): void;
  /** Resolves when every piece of work started so far has ended; rejects with the first that threw. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/**
 * The task's callback: reports to its URLs with its token, another `token`, or none (`null`).
 * Also for a test that reports on a task after the fact (a runtime back from the dead).
 */
export function callbackOf(task: RuntimeTask): Callback {
  const post = (url: string, body: unknown, token: string | null | undefined) => {
    const { origin, pathname } = new URL(url);
    const key = token === undefined ? task.callback.token : (token ?? undefined);
    return http(origin).post(pathname, body, key);
  };
  return {
    heartbeat: (body = {}, token) => post(task.callback.heartbeatUrl, body, token),
    complete: (body, token) => post(task.callback.completeUrl, body, token),
    fail: (body, token) => post(task.callback.failUrl, body, token),
  };
}

export async function startAgentRuntime(): Promise<AgentRuntime> {
  const tasks: RuntimeTask[] = [];
  const work: Promise<void>[] = [];
  let script: Script = () => ({ status: 503 });
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/tasks') {
      res.writeHead(404).end();
      return;
    }
    readJson(req)
      .then((body) => {
        const task = taskSchema.parse(body);
        tasks.push(task);
        const { status = 202, work: next } = script(task, callbackOf(task));
        res
          .writeHead(status, { 'content-type': 'application/json' })
          .end(JSON.stringify({ accepted: status < 300 }));
        if (next) work.push(next());
      })
      .catch((error: unknown) => {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: String(error) }));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tasks,
    use: (next) => {
      script = next;
    },
    idle: async () => {
      await Promise.all(work);
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

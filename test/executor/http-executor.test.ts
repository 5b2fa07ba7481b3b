import { createApp } from '../../api/app';
import { listen } from '../../api/server';
import { type ProjectBody, projectTaskTransfers, tasks } from '../projects/support';
import { ADMIN_KEY, http, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { type ErrorBody, errorCode } from '../support/hostile';
import { sleep, waitFor } from '../support/wait';
import { type AgentRuntime, type Callback, callbackOf, type RuntimeTask } from './agent-runtime';
import { type ExecutorStack, useExecutorStack } from './support';

/**
 * Issue 17: projects run on an agent runtime behind HTTP (EXECUTOR_URL). The worker sends each
 * task with a per-attempt callback and completes the activity asynchronously; the runtime's
 * heartbeats and result come back through the API. Real Temporal, Postgres and HTTP; the
 * heartbeat timeout is the executor preset's (5 s), so the dying runtime costs one timeout.
 */
let app: TestApp;
let runtime: AgentRuntime;
let p: ExecutorStack['p'];
useExecutorStack((stack) => ({ app, runtime, p } = stack));

/** Heartbeats `times` times, `everyMs` apart, each answered 200 without a cancellation. */
async function heartbeats(callback: Callback, times: number, everyMs = 100) {
  for (let i = 1; i <= times; i++) {
    const res = await callback.heartbeat({ progress: i / (times + 1), checkpoint: `step ${i}` });
    expect([res.status, res.body]).toEqual([200, { cancelRequested: false }]);
    await sleep(everyMs);
  }
}

async function outputs(projectId: string) {
  const rows = await app.sql<{ output: string | null }[]>`
    SELECT output FROM project_tasks WHERE project_id = ${projectId} ORDER BY position`;
  return rows.map((r) => r.output);
}

const received = (projectId: string) => runtime.tasks.filter((t) => t.projectId === projectId);
const finished = (x: ProjectBody) => ['completed', 'failed', 'cancelled'].includes(x.status);

test('when a project runs on the HTTP executor, then each task is sent with its callback, heartbeats reach it, and the credits reported are settled', async () => {
  runtime.use((task, callback) => ({
    work: async () => {
      await heartbeats(callback, 3);
      // Task 3 reports more than its estimate: settled at the estimate, never above.
      const usedCredits = task.position === 2 ? 999 : 20;
      const res = await callback.complete({ usedCredits, output: `runtime result of ${task.title}` });
      expect([res.status, res.body]).toEqual([200, { status: 'completed' }]);
    },
  }));
  const { user, apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const started = Date.now();
  const project = await p.start(apiKey, { name: 'on the runtime', tasks: tasks(3, 'small') }); // 3 × 25
  const done = await p.until(apiKey, project.id, 'completed', finished);
  expect(done).toMatchObject({
    status: 'completed',
    tasksCompleted: 3,
    creditsSpent: 65,
    creditsReserved: 0,
  });
  expect(done.tasks!.map((t) => [t.status, t.cost])).toEqual([
    ['completed', 20],
    ['completed', 20],
    ['completed', 25],
  ]);
  expect(await outputs(project.id)).toEqual([1, 2, 3].map((n) => `runtime result of task ${n}`));
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 935, held: 0 });
  expect(await projectTaskTransfers(app, user.id)).toHaveLength(3);

  const sent = received(project.id);
  const rows = (
    await p.api.get<{ tasks: { agentId: string | null }[] }>(`/v1/projects/${project.id}`, apiKey)
  ).body.tasks;
  expect(sent.map((t) => [t.position, t.title, t.size, t.estimate, t.attempt])).toEqual([
    [0, 'task 1', 'small', 25, 1],
    [1, 'task 2', 'small', 25, 1],
    [2, 'task 3', 'small', 25, 1],
  ]);
  expect(sent.map((t) => t.agentId)).toEqual(rows.map((r) => r.agentId));
  const first = sent[0]!;
  expect(first).toMatchObject({ heartbeatTimeoutSeconds: 5, lastHeartbeat: null });
  // The attempt may run for hours: its deadline is the executor preset's 6 hours away.
  expect(Date.parse(first.deadline) - started).toBeGreaterThan(5.9 * 3600_000);
  expect(first.callback.completeUrl).toMatch(
    new RegExp(`^${app.url}/v1/executor/tasks/[A-Za-z0-9_-]+/complete$`),
  );
  // Each attempt has its own callback and credential.
  expect(new Set(sent.map((t) => t.callback.token)).size).toBe(3);
});

test('when the runtime dies mid-task, then after the heartbeat timeout the task is sent again with its last checkpoint, the project completes, and the task is charged once', async () => {
  let dead: RuntimeTask | undefined;
  runtime.use((task, callback) => ({
    work: async () => {
      if (task.position === 1 && task.attempt === 1) {
        dead = task;
        await heartbeats(callback, 2); // ...then silence: the runtime "died"
        return;
      }
      await heartbeats(callback, 1);
      await callback.complete({ usedCredits: task.estimate, output: `done on attempt ${task.attempt}` });
    },
  }));
  const { user, apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const project = await p.start(apiKey, { name: 'runtime dies', tasks: tasks(3, 'small') });
  const done = await p.until(apiKey, project.id, 'finished', finished, 40_000);
  expect(done).toMatchObject({
    status: 'completed',
    tasksCompleted: 3,
    creditsSpent: 75,
    creditsReserved: 0,
  });
  const sent = received(project.id);
  expect(sent.map((t) => [t.position, t.attempt])).toEqual([
    [0, 1],
    [1, 1],
    [1, 2],
    [2, 1],
  ]);
  // The new attempt resumes from what the dead one last reported, with a new callback.
  expect(sent[2]!.lastHeartbeat).toEqual({ progress: 2 / 3, checkpoint: 'step 2' });
  expect(sent[2]!.callback.token).not.toBe(sent[1]!.callback.token);
  expect(await outputs(project.id)).toEqual(['done on attempt 1', 'done on attempt 2', 'done on attempt 1']);

  // The dead attempt comes back to life too late: its report is refused and changes nothing.
  const late = await callbackOf(dead!).complete({ usedCredits: 1, output: 'zombie' });
  expect(late.status).toBe(409);
  expect(late.body).toMatchObject({ error: { code: 'attempt_closed' } });
  expect(await projectTaskTransfers(app, user.id)).toHaveLength(3);
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 925, held: 0 });
}, 60_000);

test('when the runtime reports completion twice, then the second report is a 409 attempt_closed and the task is charged once', async () => {
  const answers: { status: number; code?: unknown }[] = [];
  runtime.use((task, callback) => ({
    work: async () => {
      const result = { usedCredits: 10 + task.position, output: 'twice' };
      const firstAnswer = await callback.complete(result);
      const second = await callback.complete({ ...result, usedCredits: 25 });
      answers.push({ status: firstAnswer.status }, { status: second.status, code: errorCode(second.body) });
    },
  }));
  const { user, apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const project = await p.start(apiKey, { name: 'reports twice', tasks: tasks(2, 'small') });
  const done = await p.until(apiKey, project.id, 'finished', finished);
  await runtime.idle();
  expect(done).toMatchObject({ status: 'completed', creditsSpent: 21 }); // 10 + 11, not 25 + 25
  expect(answers).toEqual([
    { status: 200 },
    { status: 409, code: 'attempt_closed' },
    { status: 200 },
    { status: 409, code: 'attempt_closed' },
  ]);
  expect(await projectTaskTransfers(app, user.id)).toHaveLength(2);
});

test('when a callback carries a forged, missing or another task’s token, or a bad body, then 401 or 400 naming the field, and the task goes on untouched', async () => {
  const checks: Record<string, unknown[]> = {};
  const tokens: string[] = [];
  runtime.use((task, callback) => ({
    work: async () => {
      tokens.push(task.callback.token);
      if (task.position === 0) {
        const forged = `${task.callback.token.slice(0, -2)}${task.callback.token.endsWith('AA') ? 'BB' : 'AA'}`;
        for (const [name, res] of [
          ['forged', await callback.complete({ usedCredits: 0, output: 'x' }, forged)],
          ['missing', await callback.complete({ usedCredits: 0, output: 'x' }, null)],
          ['not base64', await callback.heartbeat({}, 'not-a-token!')],
          ['negative credits', await callback.complete({ usedCredits: -1, output: 'x' })],
          ['fractional credits', await callback.complete({ usedCredits: 1.5, output: 'x' })],
          ['no output', await callback.complete({ usedCredits: 1 })],
          ['NUL in output', await callback.complete({ usedCredits: 1, output: 'a\u0000b' })],
          ['unknown field', await callback.complete({ usedCredits: 1, output: 'x', cost: 1 })],
          ['progress above 1', await callback.heartbeat({ progress: 2 })],
          ['empty failure', await callback.fail({ message: '' })],
        ] as const) {
          checks[name] = [res.status, errorCode(res.body) ?? res.body];
          if (res.status === 400) checks[name].push((res.body as ErrorBody).error.message);
        }
        const badId = await http(app.url).post(
          '/v1/executor/tasks/not*an*id/complete',
          {},
          task.callback.token,
        );
        checks['malformed id'] = [
          badId.status,
          errorCode(badId.body),
          (badId.body as ErrorBody).error.message,
        ];
        await callback.complete({ usedCredits: 5, output: 'first' });
        return;
      }
      // Task 2's callback with task 1's credential: refused; then task 2 reports with its own.
      const swapped = await callback.complete({ usedCredits: 0, output: 'x' }, tokens[0]);
      checks['another task’s token'] = [swapped.status, errorCode(swapped.body)];
      await callback.complete({ usedCredits: 7, output: 'second' });
    },
  }));
  const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const project = await p.start(apiKey, { name: 'hostile callbacks', tasks: tasks(2, 'small') });
  const done = await p.until(apiKey, project.id, 'finished', finished);
  await runtime.idle();
  expect(done).toMatchObject({ status: 'completed', creditsSpent: 12 });
  expect(await outputs(project.id)).toEqual(['first', 'second']);
  const bad = (field: string) => [400, 'validation_error', expect.stringMatching(new RegExp(`^${field}: `))];
  expect(checks).toEqual({
    forged: [401, 'unauthorized'],
    missing: [401, 'unauthorized'],
    'not base64': [401, 'unauthorized'],
    'negative credits': bad('usedCredits'),
    'fractional credits': bad('usedCredits'),
    'no output': bad('output'),
    'NUL in output': bad('output'),
    'unknown field': bad('cost'),
    'progress above 1': bad('progress'),
    'empty failure': bad('message'),
    'malformed id': bad('callbackId'),
    'another task’s token': [401, 'unauthorized'],
  });
});

test('when the API has no callback secret, then callbacks are refused with 403', async () => {
  const noSecret = await listen(
    createApp(app.root.apiDeps({ adminApiKey: ADMIN_KEY, log: () => {} })),
    0,
    '127.0.0.1',
  );
  try {
    const res = await http(noSecret.url).post('/v1/executor/tasks/AAAAAAAAAAAAAAAAAAAA/heartbeat', {}, 'x');
    expect([res.status, errorCode(res.body)]).toEqual([403, 'forbidden']);
  } finally {
    await noSecret.close();
  }
});

test('when the runtime reports a failure, then the task fails like the simulator’s: reservation released, completed tasks kept, the message as the reason', async () => {
  runtime.use((task, callback) => ({
    work: async () => {
      if (task.position === 0) {
        await callback.complete({ usedCredits: 25, output: 'ok' });
        return;
      }
      const res = await callback.fail({ message: 'the model refused the prompt' });
      expect([res.status, res.body]).toEqual([200, { status: 'failed', retryable: false }]);
    },
  }));
  const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const project = await p.start(apiKey, { name: 'fails', tasks: tasks(3, 'small') });
  const done = await p.until(apiKey, project.id, 'finished', finished);
  expect(done).toMatchObject({
    status: 'failed',
    failureReason: 'the model refused the prompt',
    tasksCompleted: 1,
    creditsSpent: 25,
    creditsReserved: 0,
  });
  expect(done.tasks!.map((t) => t.status)).toEqual(['completed', 'failed', 'pending']);
  expect(received(project.id)).toHaveLength(2); // a failure for good is not retried
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 975, held: 0 });
});

test('when the runtime reports a retryable failure, then the task is sent again and completes', async () => {
  runtime.use((task, callback) => ({
    work: async () => {
      if (task.attempt === 1) {
        const res = await callback.fail({ message: 'GPU lost', retryable: true });
        expect([res.status, res.body]).toEqual([200, { status: 'failed', retryable: true }]);
        return;
      }
      await callback.complete({ usedCredits: 3, output: 'second try' });
    },
  }));
  const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const project = await p.start(apiKey, { name: 'retryable', tasks: tasks(1, 'small') });
  const done = await p.until(apiKey, project.id, 'finished', finished);
  expect(done).toMatchObject({ status: 'completed', creditsSpent: 3 });
  expect(received(project.id).map((t) => t.attempt)).toEqual([1, 2]);
});

test('when the runtime refuses a task (4xx), then the task fails for good with its answer', async () => {
  runtime.use(() => ({ status: 422 }));
  const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const project = await p.start(apiKey, { name: 'refused', tasks: tasks(2, 'small') });
  const done = await p.until(apiKey, project.id, 'finished', finished);
  expect(done).toMatchObject({ status: 'failed', tasksCompleted: 0, creditsSpent: 0, creditsReserved: 0 });
  expect(done.failureReason).toMatch(/^the agent runtime refused task 1 "task 1": 422/);
  expect(received(project.id)).toHaveLength(1);
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 1000, held: 0 });
});

test('when a project is cancelled while the runtime works, then the next heartbeat answers cancelRequested, the reservation is released, and a late result is refused', async () => {
  let cancelled: { status: number; body: unknown } | undefined;
  let late: { status: number; code: unknown } | undefined;
  runtime.use((task, callback) => ({
    work: async () => {
      if (task.position === 0) {
        await callback.complete({ usedCredits: 25, output: 'kept' });
        return;
      }
      for (;;) {
        const res = await callback.heartbeat({ progress: 0.1 });
        if (res.status !== 200 || (res.body as { cancelRequested: boolean }).cancelRequested) {
          cancelled = res;
          break;
        }
        await sleep(100);
      }
      const res = await callback.complete({ usedCredits: 25, output: 'too late' });
      late = { status: res.status, code: errorCode(res.body) };
    },
  }));
  const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
  const project = await p.start(apiKey, { name: 'cancel remote', tasks: tasks(3, 'small') });
  await waitFor('task 2 at the runtime', async () => received(project.id).length === 2);
  expect((await p.api.post(`/v1/projects/${project.id}/cancel`, {}, apiKey)).status).toBe(202);
  const done = await p.until(apiKey, project.id, 'finished', finished);
  await runtime.idle();
  expect(cancelled).toMatchObject({ status: 200, body: { cancelRequested: true } });
  expect(late).toEqual({ status: 409, code: 'attempt_closed' });
  expect(done).toMatchObject({
    status: 'cancelled',
    tasksCompleted: 1,
    creditsSpent: 25,
    creditsReserved: 0,
  });
  expect(done.tasks!.map((t) => t.status)).toEqual(['completed', 'cancelled', 'pending']);
  expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 975, held: 0 });
});

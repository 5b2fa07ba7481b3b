import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ProjectWorkflowActivities } from '../../activities';
import type { Reservation } from '../../activities/projects';
import {
  cancelProjectSignal,
  type ProjectInput,
  type ProjectTask,
  topUpSignal,
  workflowIds,
} from '../../workflows/messages';
import { projectWorkflow } from '../../workflows/project';
import { progressWhen } from './project-progress';
import { type StubWorker, startStubWorker, startTimeSkipping } from './time-skipping';

/**
 * The project workflow's logic (DESIGN.md §5) on the time-skipping server, against an in-memory
 * ledger of stubbed activities: the re-check timer passes in an instant. test/projects proves
 * the same against Postgres, the real ledger and the executor simulator.
 */

const ACTIVITIES = [
  'chargePlanning',
  'planTasks',
  'reserveTask',
  'settleTask',
  'releaseTask',
  'setProjectStatus',
  'executeTask',
  'autoTopUpInFlight',
] as const satisfies readonly (keyof ProjectWorkflowActivities)[];

let env: TestWorkflowEnvironment;
let worker: StubWorker<ProjectWorkflowActivities>;
beforeAll(async () => {
  env = await startTimeSkipping();
  worker = await startStubWorker<ProjectWorkflowActivities>(env, ACTIVITIES);
});
afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
});

const task = (title: string, estimate = 25): ProjectTask => ({ title, size: 'small', estimate });

let seq = 0;
function projectInput(tasks: ProjectTask[] | null, overrides: Partial<ProjectInput> = {}): ProjectInput {
  seq++;
  return {
    projectId: `project-${seq}`,
    userId: 'user-1',
    rateCardVersion: 1,
    tasks,
    prompt: tasks ? null : 'build a thing',
    recheckSeconds: 3600,
    tasksPerRun: 100,
    ...overrides,
  };
}

/**
 * An in-memory ledger behind the stubs: reserving holds the estimate when the balance covers it,
 * settling posts it, releasing gives it back. `executeTask` is replaceable per test.
 */
function fakeLedger(balance: number) {
  const state = {
    available: balance,
    spent: 0,
    holds: new Map<string, number>(),
    statuses: [] as string[],
    reserved: [] as number[],
    settled: [] as number[],
    released: [] as { position: number; holdId: string; status: string }[],
    executed: [] as number[],
  };
  const stubs: ProjectWorkflowActivities = {
    async chargePlanning(): Promise<Reservation> {
      if (state.available < 50) return { ok: false, needed: 50, available: state.available };
      state.available -= 50;
      state.spent += 50;
      return { ok: true, holdId: '' };
    },
    async planTasks() {
      return [task('planned one'), task('planned two')];
    },
    async reserveTask(input): Promise<Reservation> {
      if (state.available < input.estimate)
        return { ok: false, needed: input.estimate, available: state.available };
      const holdId = `hold-${input.projectId}-${input.position}`;
      state.available -= input.estimate;
      state.holds.set(holdId, input.estimate);
      state.reserved.push(input.position);
      return { ok: true, holdId };
    },
    async settleTask(input) {
      const held = state.holds.get(input.holdId) ?? 0;
      const cost = Math.min(input.usedCredits, held);
      state.holds.delete(input.holdId);
      state.available += held - cost;
      state.spent += cost;
      state.settled.push(input.position);
      return { cost, creditsSpent: state.spent };
    },
    async releaseTask(input) {
      state.available += state.holds.get(input.holdId) ?? 0;
      state.holds.delete(input.holdId);
      state.released.push({ position: input.position, holdId: input.holdId, status: input.status });
    },
    async setProjectStatus(input) {
      state.statuses.push(input.status);
    },
    async executeTask(input) {
      state.executed.push(input.position);
      return { output: `done ${input.title}`, usedCredits: input.estimate };
    },
    async autoTopUpInFlight() {
      return { inFlight: false, purchaseId: null, since: null };
    },
  };
  return { state, stubs };
}

async function start(stubs: ProjectWorkflowActivities, input: ProjectInput) {
  worker.use(stubs);
  return env.client.workflow.start(projectWorkflow, {
    taskQueue: worker.taskQueue,
    workflowId: workflowIds.project(input.projectId),
    args: [input],
  });
}

test('when the balance covers every task, then each is reserved, run and settled once, in order', async () => {
  const { state, stubs } = fakeLedger(1000);
  const handle = await start(stubs, projectInput([task('a'), task('b', 75), task('c')]));
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', tasksCompleted: 3, tasksTotal: 3, creditsSpent: 125 });
  expect(state.reserved).toEqual([0, 1, 2]);
  expect(state.executed).toEqual([0, 1, 2]);
  expect(state.settled).toEqual([0, 1, 2]);
  expect(state.statuses).toEqual(['completed']);
  expect(state.available).toBe(875);
});

test('when only a prompt is given, then planning is charged and the planner’s tasks run', async () => {
  const { state, stubs } = fakeLedger(1000);
  const result = await (await start(stubs, projectInput(null))).result();
  expect(result).toMatchObject({ status: 'completed', tasksCompleted: 2, tasksTotal: 2, creditsSpent: 100 });
  expect(state.spent).toBe(100);
});

test('when a reservation is refused for lack of credits, then the project pauses and resumes at that task on a top-up signal', async () => {
  const { state, stubs } = fakeLedger(30);
  // A re-check a day away: a resume within seconds of real time can only come from the signal.
  const handle = await start(
    stubs,
    projectInput([task('a'), task('b'), task('c')], { recheckSeconds: 86_400 }),
  );
  const paused = await progressWhen(handle, (p) => p.status === 'paused');
  expect(paused).toMatchObject({
    tasksCompleted: 1,
    creditsSpent: 25,
    creditsReserved: 0,
    pausedReason: { code: 'insufficient_credits', needed: 25, available: 5 },
  });
  expect(state.statuses).toEqual(['paused']);

  state.available += 100;
  await handle.signal(topUpSignal, { reason: 'purchase', available: state.available });
  await progressWhen(handle, (p) => p.status === 'completed');
  expect(await handle.result()).toMatchObject({ status: 'completed', tasksCompleted: 3, creditsSpent: 75 });
  expect(state.reserved).toEqual([0, 1, 2]);
  expect(state.statuses).toEqual(['paused', 'running', 'completed']);
});

test('when an automatic top-up is being charged, then the project waits for it (its reason says so) and resumes when it lands', async () => {
  const { state, stubs } = fakeLedger(30);
  let topUpInFlight = true;
  stubs.autoTopUpInFlight = async () => ({
    inFlight: topUpInFlight,
    purchaseId: topUpInFlight ? 'auto-purchase-1' : null,
    since: null,
  });
  const handle = await start(stubs, projectInput([task('a'), task('b')], { recheckSeconds: 86_400 }));
  const waiting = await progressWhen(handle, (p) => p.status === 'paused');
  expect(waiting.pausedReason).toMatchObject({
    code: 'awaiting_auto_top_up',
    purchaseId: 'auto-purchase-1',
    needed: 25,
    available: 5,
  });

  // The top-up lands: credits in, nothing in flight, and the auto top-up workflow signals.
  state.available += 500;
  topUpInFlight = false;
  await handle.signal(topUpSignal, { reason: 'purchase', available: state.available });
  expect(await handle.result()).toMatchObject({ status: 'completed', tasksCompleted: 2 });
});

test('when the automatic top-up in flight fails, then the project pauses for insufficient credits', async () => {
  const { stubs } = fakeLedger(30);
  let topUpInFlight = true;
  stubs.autoTopUpInFlight = async () => ({ inFlight: topUpInFlight, purchaseId: null, since: null });
  const handle = await start(stubs, projectInput([task('a'), task('b')], { recheckSeconds: 86_400 }));
  await progressWhen(handle, (p) => p.pausedReason?.code === 'awaiting_auto_top_up');
  topUpInFlight = false; // declined: the auto top-up workflow still signals when it settles
  await handle.signal(topUpSignal, { reason: 'other', available: 5 });
  const paused = await progressWhen(handle, (p) => p.pausedReason?.code === 'insufficient_credits');
  expect(paused).toMatchObject({ status: 'paused', pausedReason: { needed: 25, available: 5 } });
  await handle.cancel();
});

test('when no top-up signal comes but the balance grew, then the re-check timer resumes the project', async () => {
  const { state, stubs } = fakeLedger(0);
  const handle = await start(stubs, projectInput([task('a'), task('b')], { recheckSeconds: 600 }));
  await progressWhen(handle, (p) => p.status === 'paused');
  state.available = 100; // a grant whose signal was lost
  const before = await env.currentTimeMs();
  const result = await handle.result(); // lets the server skip to the re-check
  expect(result).toMatchObject({ status: 'completed', tasksCompleted: 2, creditsSpent: 50 });
  expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(600_000 - 1000);
  expect(state.statuses).toEqual(['paused', 'running', 'completed']);
});

test('when the project is cancelled while a task runs, then that task’s hold is voided and completed work stays', async () => {
  const { state, stubs } = fakeLedger(1000);
  stubs.executeTask = async (input) => {
    state.executed.push(input.position);
    if (input.position === 0) return { output: 'done', usedCredits: input.estimate };
    // The second task runs until cancelled; cancellation reaches it through its heartbeats.
    for (;;) {
      Context.current().heartbeat();
      await Context.current().sleep(50);
    }
  };
  const handle = await start(stubs, projectInput([task('a'), task('b'), task('c')]));
  await progressWhen(handle, (p) => p.creditsReserved > 0 && p.tasksCompleted === 1);
  await handle.signal(cancelProjectSignal, { reason: 'user asked' });
  const result = await handle.result();
  expect(result).toMatchObject({
    status: 'cancelled',
    tasksCompleted: 1,
    creditsSpent: 25,
    creditsReserved: 0,
  });
  expect(state.released).toEqual([
    { position: 1, holdId: `hold-${handle.workflowId.slice(8)}-1`, status: 'cancelled' },
  ]);
  expect(state.holds.size).toBe(0);
  expect(state.settled).toEqual([0]);
  expect(state.reserved).toEqual([0, 1]);
  expect(state.available).toBe(975);
});

test('when a project runs longer than tasksPerRun, then it continues as new and keeps its progress', async () => {
  const { state, stubs } = fakeLedger(1000);
  const titles = ['a', 'b', 'c', 'd', 'e'];
  const handle = await start(
    stubs,
    projectInput(
      titles.map((t) => task(t)),
      { tasksPerRun: 2 },
    ),
  );
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', tasksCompleted: 5, tasksTotal: 5, creditsSpent: 125 });
  expect(state.reserved).toEqual([0, 1, 2, 3, 4]); // none skipped, none run twice
  const first = env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
  expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
  const latest = await env.client.workflow.getHandle(handle.workflowId).describe();
  expect(latest.runId).not.toBe(handle.firstExecutionRunId);
});
